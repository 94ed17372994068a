namespace EDiffI.Plugins.World;

/// <summary>Draws random scenes; everything follows from the seed.</summary>
public static class SceneSampler
{
    /// <summary>A scene of <paramref name="split"/> drawn from <paramref name="seed"/>.</summary>
    public static Scene Sample(long seed, WorldSplit split)
    {
        var rng = new Random(unchecked((int)(seed ^ (seed >> 32))));
        for (int attempt = 0; ; attempt++)
        {
            var scene = Draw(rng);
            bool heldOut = HeldOut.Scene(scene);
            if (split == WorldSplit.Train ? !heldOut : heldOut) return scene;
            if (attempt > 10_000) throw new InvalidOperationException("could not draw a scene of the requested split");
        }
    }

    /// <summary>Families that read well inside a small object.</summary>
    public static readonly TextureFamily[] ObjectTextures = [TextureFamily.Stripes, TextureFamily.Checkerboard, TextureFamily.PolkaDots, TextureFamily.Bricks];

    private static Scene Draw(Random rng)
    {
        int colors = Palette.Colors.Count;
        int main = rng.Next(colors);
        int second = (main + 1 + rng.Next(colors - 1)) % colors;
        var background = new TextureSpec(
            (TextureFamily)rng.Next(Enum.GetValues<TextureFamily>().Length), main, second,
            (TextureScale)rng.Next(3), (TextureOrientation)rng.Next(3), rng.Next(2) == 0, rng.Next(2) == 0, (uint)rng.Next());
        int count = rng.NextDouble() < 0.4 ? 0 : 1 + rng.Next(3);
        bool counting = count >= 2 && rng.NextDouble() < 0.35;
        var cells = Enumerable.Range(0, 9).OrderBy(_ => rng.Next()).Take(count).Order().ToList();
        var objects = new List<SceneObject>();
        Shape sharedShape = (Shape)rng.Next(6);
        int sharedColor = rng.Next(colors);
        foreach (int cell in cells)
        {
            var shape = counting ? sharedShape : (Shape)rng.Next(6);
            int color = counting ? sharedColor : rng.Next(colors);
            // Objects stand out from the background: never the background's own colours.
            while (color == main || color == second)
            {
                color = rng.Next(colors);
                if (counting) sharedColor = color;
            }
            TextureFamily? texture = !counting && rng.NextDouble() < 0.2 ? ObjectTextures[rng.Next(ObjectTextures.Length)] : null;
            objects.Add(new SceneObject(shape, color, texture, cell, 0.11 + 0.04 * rng.NextDouble(),
                (rng.NextDouble() - 0.5) * 0.06, (rng.NextDouble() - 0.5) * 0.06));
        }
        if (counting) objects = objects.Select(o => o with { Color = objects[0].Color }).ToList();
        return new Scene(background, objects, counting);
    }
}
