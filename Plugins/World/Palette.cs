namespace EDiffI.Plugins.World;

/// <summary>A named colour of the world's palette.</summary>
public readonly record struct NamedColor(string Name, byte R, byte G, byte B);

/// <summary>The twelve colours textures and objects are drawn in; captions use their names.</summary>
public static class Palette
{
    /// <summary>Every colour, indexed as the judge's colour classes.</summary>
    public static IReadOnlyList<NamedColor> Colors { get; } =
    [
        new("red", 210, 40, 40), new("orange", 235, 130, 30), new("yellow", 235, 215, 50), new("green", 50, 165, 60),
        new("teal", 30, 150, 150), new("blue", 40, 80, 215), new("purple", 130, 60, 180), new("pink", 235, 130, 180),
        new("brown", 120, 75, 40), new("white", 240, 240, 235), new("grey", 128, 128, 128), new("black", 25, 25, 25),
    ];

    /// <summary>Index of a colour by name.</summary>
    public static int IndexOf(string name) =>
        Colors.Select((c, i) => (c, i)).FirstOrDefault(p => p.c.Name == name, (default, -1)).Item2;
}
