namespace EDiffI.Plugins.World;

/// <summary>The texture families of the world (game developers' staples).</summary>
public enum TextureFamily
{
    /// <summary>Running-bond bricks with mortar.</summary>
    Bricks,
    /// <summary>Square tiles with grout.</summary>
    Tiles,
    /// <summary>Wooden planks with grain.</summary>
    Planks,
    /// <summary>Parallel stripes.</summary>
    Stripes,
    /// <summary>Checkerboard.</summary>
    Checkerboard,
    /// <summary>Polka dots.</summary>
    PolkaDots,
    /// <summary>Hexagonal cells with borders.</summary>
    Hexagons,
    /// <summary>Wavy bands.</summary>
    Waves,
    /// <summary>Marble with veins.</summary>
    Marble,
    /// <summary>Fractal-noise clouds.</summary>
    Clouds,
    /// <summary>Cobblestones (Voronoi cells).</summary>
    Cobblestones,
    /// <summary>Grass strokes.</summary>
    Grass,
    /// <summary>Riveted metal plates.</summary>
    MetalPlates,
    /// <summary>Woven fabric (basket weave).</summary>
    Fabric,
}

/// <summary>Size of a texture's repeating element: 8, 4 or 2 repeats across the image.</summary>
public enum TextureScale { Small, Medium, Large }

/// <summary>Orientation of a texture's main direction.</summary>
public enum TextureOrientation { Horizontal, Vertical, Diagonal }

/// <summary>One texture, fully specified: drawing it twice gives the same pixels.</summary>
/// <param name="Family">Which family.</param>
/// <param name="Color">Main colour (index into <see cref="Palette.Colors"/>).</param>
/// <param name="SecondColor">Mortar, gap, vein or background colour.</param>
/// <param name="Scale">Size of the repeating element.</param>
/// <param name="Orientation">Main direction.</param>
/// <param name="Dense">Denser elements where the family has a density (larger dots, rivets nearer the plate corners).</param>
/// <param name="Thick">Thicker lines (mortar, gaps, stripes, veins) when true.</param>
/// <param name="Seed">Seed of the family's noise.</param>
public sealed record TextureSpec(
    TextureFamily Family, int Color, int SecondColor, TextureScale Scale, TextureOrientation Orientation,
    bool Dense, bool Thick, uint Seed)
{
    /// <summary>Repeats of the element across the image.</summary>
    public int Frequency => Scale switch { TextureScale.Small => 8, TextureScale.Medium => 4, _ => 2 };

    /// <summary>
    /// True when the texture wraps seamlessly: its pattern repeats a whole number of times across the
    /// image and its noise is periodic, which holds for every family except hexagons (their row
    /// spacing is irrational) and for every orientation but the diagonal.
    /// </summary>
    public bool Tileable => Family != TextureFamily.Hexagons && Orientation != TextureOrientation.Diagonal;
}
