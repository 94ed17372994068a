namespace EDiffI.Plugins.World;

/// <summary>
/// The ground truth of a scene as class labels, for the judge: the background's attributes and, for
/// each of the nine grid cells, the object's shape and colour there (0 = no object).
/// </summary>
public sealed record SceneLabels(
    int Family, int Color, int SecondColor, int Scale, int Orientation, int Dense, int Thick,
    int[] CellShape, int[] CellColor)
{
    /// <summary>Names of the background attributes, in the order of <see cref="Background"/>.</summary>
    public static readonly string[] BackgroundNames = ["family", "colour", "second colour", "scale", "orientation", "density", "thickness"];

    /// <summary>Classes of each background attribute.</summary>
    public static readonly int[] BackgroundClasses = [14, 12, 12, 3, 3, 2, 2];

    /// <summary>Shape classes per cell: none plus six shapes.</summary>
    public const int ShapeClasses = 7;

    /// <summary>Colour classes per cell: none plus twelve colours.</summary>
    public const int ColorClasses = 13;

    /// <summary>The background attributes in <see cref="BackgroundNames"/> order.</summary>
    public int[] Background => [Family, Color, SecondColor, Scale, Orientation, Dense, Thick];

    // Families in which an attribute is visible; elsewhere it is not scored.
    private static readonly HashSet<TextureFamily> OrientationVisible =
        [TextureFamily.Bricks, TextureFamily.Planks, TextureFamily.Stripes, TextureFamily.Waves, TextureFamily.Marble, TextureFamily.Grass, TextureFamily.Hexagons];
    private static readonly HashSet<TextureFamily> DensityVisible = [TextureFamily.PolkaDots, TextureFamily.MetalPlates];
    private static readonly HashSet<TextureFamily> ThicknessVisible =
        [TextureFamily.Bricks, TextureFamily.Tiles, TextureFamily.Planks, TextureFamily.Stripes, TextureFamily.Hexagons,
         TextureFamily.Waves, TextureFamily.Marble, TextureFamily.Cobblestones, TextureFamily.MetalPlates];

    /// <summary>Whether background attribute <paramref name="attribute"/> can be seen at all in a texture of <paramref name="family"/>.</summary>
    public static bool Visible(int attribute, TextureFamily family) => attribute switch
    {
        4 => OrientationVisible.Contains(family),
        5 => DensityVisible.Contains(family),
        6 => ThicknessVisible.Contains(family),
        _ => true,
    };

    /// <summary>The labels of a scene.</summary>
    public static SceneLabels Of(Scene scene)
    {
        var b = scene.Background;
        var shapes = new int[9];
        var colors = new int[9];
        foreach (var o in scene.Objects)
        {
            shapes[o.Cell] = (int)o.Shape + 1;
            colors[o.Cell] = o.Color + 1;
        }
        return new SceneLabels((int)b.Family, b.Color, b.SecondColor, (int)b.Scale, (int)b.Orientation,
            b.Dense ? 1 : 0, b.Thick ? 1 : 0, shapes, colors);
    }
}
