using System.Text;

namespace EDiffI.Plugins.World;

/// <summary>A phrase of a caption that names one object, tied to that object's mask.</summary>
/// <param name="Object">Index of the object in the scene.</param>
/// <param name="Start">Character offset of the phrase in the caption.</param>
/// <param name="Length">Length of the phrase.</param>
public sealed record PhraseLink(int Object, int Start, int Length);

/// <summary>A caption and the phrases in it that name objects.</summary>
public sealed record Caption(string Text, IReadOnlyList<PhraseLink> Links)
{
    /// <summary>Number of words.</summary>
    public int Words => Text.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length;
}

/// <summary>
/// The caption grammar: short captions of about ten words (COCO-like) and long descriptive ones of
/// 30 to 60 words (Visual-Genome-like), with synonyms and varied word order, drawn from a seed.
/// </summary>
public static class Captions
{
    private static readonly string[][] ShapeWords =
    [
        ["circle", "disc", "round shape"], ["square", "box", "square shape"], ["triangle", "triangle", "triangular shape"],
        ["star", "star", "star shape"], ["ring", "ring", "hoop"], ["cross", "cross", "plus sign"],
    ];

    private static readonly string[] ObjectTextureWords = ["striped", "checkered", "dotted", "brick"];

    private static string Pick(Random rng, params string[] options) => options[rng.Next(options.Length)];

    private static string Color(int i) => Palette.Colors[i].Name;

    /// <summary>How the background is named: the texture, its colours and its mortar, grout or veins.</summary>
    public static string Background(TextureSpec t, Random rng)
    {
        string a = Color(t.Color), b = Color(t.SecondColor);
        return t.Family switch
        {
            TextureFamily.Bricks => $"{a} {Pick(rng, "bricks", "brick wall", "brickwork")} with {b} mortar",
            TextureFamily.Tiles => $"{a} {Pick(rng, "tiles", "square tiles", "tiling")} with {b} grout",
            TextureFamily.Planks => $"{a} wooden {Pick(rng, "planks", "boards", "floorboards")} with {b} seams",
            TextureFamily.Stripes => $"{a} and {b} {Pick(rng, "stripes", "bands", "striped pattern")}",
            TextureFamily.Checkerboard => $"{Pick(rng, "a", "a tiled")} {a} and {b} {Pick(rng, "checkerboard", "checker pattern", "chessboard")}",
            TextureFamily.PolkaDots => $"{a} {Pick(rng, "polka dots", "dots", "spots")} on {b}",
            TextureFamily.Hexagons => $"{a} {Pick(rng, "hexagons", "hexagonal cells", "honeycomb")} with {b} borders",
            TextureFamily.Waves => $"{a} and {b} {Pick(rng, "waves", "wavy bands", "ripples")}",
            TextureFamily.Marble => $"{a} {Pick(rng, "marble", "marble stone", "polished marble")} with {b} veins",
            TextureFamily.Clouds => $"{a} and {b} {Pick(rng, "clouds", "cloudy noise", "mist")}",
            TextureFamily.Cobblestones => $"{a} {Pick(rng, "cobblestones", "cobbles", "stone paving")} with {b} joints",
            TextureFamily.Grass => $"{a} {Pick(rng, "grass", "grass blades", "lawn")} with {b} strokes",
            TextureFamily.MetalPlates => $"{a} {Pick(rng, "riveted metal plates", "riveted metal panels", "riveted steel plates")} with {b} seams",
            TextureFamily.Fabric => $"{a} and {b} {Pick(rng, "woven fabric", "woven cloth", "basket weave")}",
            _ => throw new ArgumentOutOfRangeException(nameof(t)),
        };
    }

    /// <summary>The texture family alone, with no colours ("bricks", "wooden planks"): a prompt that leaves the palette open.</summary>
    public static string FamilyName(TextureFamily family) => family switch
    {
        TextureFamily.Planks => "wooden planks",
        TextureFamily.PolkaDots => "polka dots",
        TextureFamily.MetalPlates => "riveted metal plates",
        TextureFamily.Fabric => "woven fabric",
        _ => family.ToString().ToLowerInvariant(),
    };

    /// <summary>How an object is named: "a red star", "a blue striped ring".</summary>
    public static string ObjectPhrase(SceneObject o, Random rng)
    {
        string texture = o.Texture is TextureFamily f ? ObjectTextureWords[Array.IndexOf(SceneSampler.ObjectTextures, f)] + " " : "";
        string color = Color(o.Color);
        string article = Pick(rng, "a", "a", "one");
        if (article == "a" && "aeiou".Contains(color[0], StringComparison.Ordinal)) article = "an";
        return $"{article} {color} {texture}{Pick(rng, ShapeWords[(int)o.Shape])}";
    }

    private static string Relation(SceneObject a, SceneObject b, Random rng)
    {
        if (a.Column < b.Column) return Pick(rng, "left of", "to the left of");
        if (a.Column > b.Column) return Pick(rng, "right of", "to the right of");
        return a.Row < b.Row ? Pick(rng, "above", "over") : Pick(rng, "below", "under");
    }

    private static string Position(SceneObject o) =>
        (o.Row, o.Column) switch
        {
            (1, 1) => "centre",
            _ => $"{new[] { "top", "middle", "bottom" }[o.Row]} {new[] { "left", "centre", "right" }[o.Column]}".Replace("middle centre", "centre", StringComparison.Ordinal),
        };

    private static readonly string[] Numbers = ["zero", "one", "two", "three"];

    /// <summary>A short caption (about ten words).</summary>
    public static Caption Short(Scene scene, long seed)
    {
        var rng = new Random(unchecked((int)seed) ^ 0x5EED);
        var text = new StringBuilder();
        var links = new List<PhraseLink>();
        string background = Background(scene.Background, rng);
        var objects = scene.Objects;
        if (objects.Count == 0)
        {
            text.Append(Pick(rng, "", "a texture of ", "seamless ", "a game texture of ")).Append(background);
            return new Caption(text.ToString().Trim(), links);
        }
        if (scene.CountCaption)
        {
            var o = objects[0];
            string noun = ShapeWords[(int)o.Shape][0];
            string phrase = $"{Numbers[objects.Count]} {Color(o.Color)} {noun}{(noun.EndsWith('s') ? "es" : "s")}";
            for (int i = 0; i < objects.Count; i++) links.Add(new PhraseLink(i, 0, phrase.Length));
            text.Append(phrase).Append(Pick(rng, " on ", " over ")).Append(background);
            return new Caption(text.ToString(), links);
        }
        void Add(int i)
        {
            string phrase = ObjectPhrase(objects[i], rng);
            links.Add(new PhraseLink(i, text.Length, phrase.Length));
            text.Append(phrase);
        }
        if (objects.Count == 1)
        {
            Add(0);
            text.Append(Pick(rng, " on ", " in front of ", " over ")).Append(background);
        }
        else
        {
            Add(0);
            text.Append(' ').Append(Relation(objects[0], objects[1], rng)).Append(' ');
            Add(1);
            if (objects.Count == 3) { text.Append(" and "); Add(2); }
            text.Append(" on ").Append(background);
        }
        return new Caption(text.ToString(), links);
    }

    /// <summary>A long descriptive caption (30 to 60 words).</summary>
    public static Caption Long(Scene scene, long seed)
    {
        var rng = new Random(unchecked((int)seed) ^ 0x10A6);
        var t = scene.Background;
        var text = new StringBuilder();
        var links = new List<PhraseLink>();
        string scale = t.Scale switch { TextureScale.Small => "small", TextureScale.Medium => "medium", _ => "large" };
        string orientation = t.Orientation switch { TextureOrientation.Horizontal => "horizontal", TextureOrientation.Vertical => "vertical", _ => "diagonal" };
        text.Append(Pick(rng, "The image shows ", "This picture is a texture of ", "A game texture showing "))
            .Append(Background(t, rng)).Append(". ");
        // Only what can be seen in this family is described.
        text.Append($"The pattern is {scale}-scale");
        if (SceneLabels.Visible(4, t.Family)) text.Append($" and {orientation}");
        if (SceneLabels.Visible(5, t.Family)) text.Append(t.Dense ? ", dense" : ", sparse");
        if (SceneLabels.Visible(6, t.Family)) text.Append(t.Thick ? ", with thick lines" : ", with thin lines");
        text.Append(". ");
        for (int i = 0; i < scene.Objects.Count; i++)
        {
            var o = scene.Objects[i];
            text.Append(Pick(rng, "At the ", "In the ")).Append(Position(o)).Append(": ");
            string phrase = ObjectPhrase(o, rng);
            links.Add(new PhraseLink(i, text.Length, phrase.Length));
            text.Append(phrase).Append(", ").Append(o.Size > 0.13 ? "large" : "small").Append(". ");
        }
        if (scene.Objects.Count == 0) text.Append("There are no objects in front of it, only the surface itself. ");
        text.Append(t.Tileable ? "It tiles seamlessly." : "It does not tile seamlessly.");
        string result = text.ToString();
        // Pad very short descriptions with a neutral sentence so every long caption has 30 or more words.
        while (result.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length < 30)
            result += " It is lit evenly, with flat colours and no shadows or perspective.";
        return new Caption(result, links);
    }
}
