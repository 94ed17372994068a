namespace EDiffI.Plugins.World;

/// <summary>Shapes of scene objects.</summary>
public enum Shape { Circle, Square, Triangle, Star, Ring, Cross }

/// <summary>One object of a scene.</summary>
/// <param name="Shape">Its shape.</param>
/// <param name="Color">Its colour (palette index).</param>
/// <param name="Texture">A texture family filling it, or null for a solid colour.</param>
/// <param name="Cell">Position in the 3×3 grid, row-major: 0 is top left, 4 the centre.</param>
/// <param name="Size">Radius as a fraction of the image side.</param>
/// <param name="DX">Horizontal jitter of the centre, fraction of the image side.</param>
/// <param name="DY">Vertical jitter of the centre.</param>
public sealed record SceneObject(Shape Shape, int Color, TextureFamily? Texture, int Cell, double Size, double DX, double DY)
{
    /// <summary>Column of the cell (0 left, 2 right).</summary>
    public int Column => Cell % 3;
    /// <summary>Row of the cell (0 top, 2 bottom).</summary>
    public int Row => Cell / 3;

    /// <summary>True when the object covers the point (u, v) of the unit square.</summary>
    public bool Covers(double u, double v)
    {
        double cx = (Column + 0.5) / 3 + DX, cy = (Row + 0.5) / 3 + DY;
        double x = (u - cx) / Size, y = (v - cy) / Size;
        double d = Math.Sqrt(x * x + y * y);
        switch (Shape)
        {
            case Shape.Circle: return d < 1;
            case Shape.Square: return Math.Max(Math.Abs(x), Math.Abs(y)) < 0.82;
            case Shape.Triangle: return y < 0.75 && y > -0.95 && Math.Abs(x) < (y + 0.95) * 0.62;
            case Shape.Ring: return d < 1 && d > 0.55;
            case Shape.Cross: return (Math.Abs(x) < 0.3 && Math.Abs(y) < 0.95) || (Math.Abs(y) < 0.3 && Math.Abs(x) < 0.95);
            case Shape.Star:
            {
                double angle = Math.Atan2(y, x) + Math.PI / 2;
                double k = Math.Abs(((angle / (2 * Math.PI / 5)) % 1 + 1) % 1 - 0.5) * 2; // 0 at a point, 1 between points
                return d < 1 - 0.55 * k;
            }
            default: return false;
        }
    }
}

/// <summary>A scene: a textured background and up to three objects.</summary>
public sealed record Scene(TextureSpec Background, IReadOnlyList<SceneObject> Objects, bool CountCaption);

/// <summary>Which part of the world to draw from.</summary>
public enum WorldSplit
{
    /// <summary>The training stream: never produces a held-out combination.</summary>
    Train,
    /// <summary>Only held-out combinations: compositional generalisation.</summary>
    HeldOut,
}

/// <summary>
/// Which attribute combinations are held out of training (documented in docs/world.md): a
/// background texture family in a main colour, and an object shape in a colour, each by a fixed rule.
/// </summary>
public static class HeldOut
{
    /// <summary>True for (family, colour) pairs the training stream never draws: 16 of the 168.</summary>
    public static bool Texture(TextureFamily family, int color) => ((int)family * 7 + color * 3 + 4) % 10 == 0;

    /// <summary>True for (shape, colour) pairs the training stream never draws: 8 of the 72.</summary>
    public static bool Object(Shape shape, int color) => ((int)shape * 5 + color) % 9 == 0;

    /// <summary>True when any part of the scene is a held-out combination.</summary>
    public static bool Scene(Scene s) =>
        Texture(s.Background.Family, s.Background.Color) || s.Objects.Any(o => Object(o.Shape, o.Color));
}

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
