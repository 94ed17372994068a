namespace EDiffI.Textures;

/// <summary>The GPU formats the texture path writes.</summary>
public enum TextureFormat
{
    /// <summary>Uncompressed 8-bit RGBA (Vulkan R8G8B8A8, DXGI R8G8B8A8).</summary>
    Rgba8,

    /// <summary>BC1 without alpha: colour in 8 bytes per 4×4 block (Vulkan BC1_RGB, DXGI BC1).</summary>
    Bc1,

    /// <summary>BC5: two channels (a normal map's x and y) in 16 bytes per block; z is rebuilt as √(1 − x² − y²).</summary>
    Bc5,

    /// <summary>BC7: high-quality RGBA in 16 bytes per block (this framework's encoder uses mode 6).</summary>
    Bc7,
}

/// <summary>A texture ready for a container: every mip level's bytes in <see cref="Format"/>, level 0 first.</summary>
/// <param name="Format">The format of every level.</param>
/// <param name="Srgb">True when the values are sRGB-encoded colour (the _SRGB formats); never for BC5.</param>
/// <param name="Width">Level 0's width.</param>
/// <param name="Height">Level 0's height.</param>
/// <param name="Levels">Each level's bytes: RGBA8 rows, or 4×4 blocks row-major (a partial block at the edge is a whole block).</param>
public sealed record EncodedTexture(TextureFormat Format, bool Srgb, int Width, int Height, IReadOnlyList<byte[]> Levels)
{
    /// <summary>Bytes per 4×4 block (BC) or per pixel (RGBA8).</summary>
    public static int BlockBytes(TextureFormat format) => format switch { TextureFormat.Bc1 => 8, TextureFormat.Rgba8 => 4, _ => 16 };

    /// <summary>True for the block-compressed formats.</summary>
    public static bool IsBlock(TextureFormat format) => format != TextureFormat.Rgba8;

    /// <summary>The byte size of a level of <paramref name="width"/> × <paramref name="height"/> pixels in <paramref name="format"/>.</summary>
    public static int LevelBytes(TextureFormat format, int width, int height) => IsBlock(format)
        ? ((width + 3) / 4) * ((height + 3) / 4) * BlockBytes(format)
        : width * height * 4;

    /// <summary>The Vulkan format number (VkFormat) the KTX2 header stores.</summary>
    public int VkFormat => (Format, Srgb) switch
    {
        (TextureFormat.Rgba8, false) => 37, (TextureFormat.Rgba8, true) => 43,
        (TextureFormat.Bc1, false) => 131, (TextureFormat.Bc1, true) => 132,
        (TextureFormat.Bc5, _) => 141,
        (TextureFormat.Bc7, false) => 145, _ => 146,
    };

    /// <summary>The DXGI format number the DDS DX10 header stores.</summary>
    public int DxgiFormat => (Format, Srgb) switch
    {
        (TextureFormat.Rgba8, false) => 28, (TextureFormat.Rgba8, true) => 29,
        (TextureFormat.Bc1, false) => 71, (TextureFormat.Bc1, true) => 72,
        (TextureFormat.Bc5, _) => 83,
        (TextureFormat.Bc7, false) => 98, _ => 99,
    };

    /// <summary>Level <paramref name="level"/>'s size: each side halved per level, at least 1.</summary>
    public (int Width, int Height) LevelSize(int level) => (Math.Max(1, Width >> level), Math.Max(1, Height >> level));

    /// <summary>Checks that every level has the byte size its format and size give.</summary>
    /// <exception cref="ArgumentException">Naming the first level that does not.</exception>
    public void Validate()
    {
        if (Levels.Count == 0) throw new ArgumentException("A texture needs at least one level.");
        if (Format == TextureFormat.Bc5 && Srgb) throw new ArgumentException("BC5 holds normals or data, never sRGB colour.");
        for (int i = 0; i < Levels.Count; i++)
        {
            var (w, h) = LevelSize(i);
            int expected = LevelBytes(Format, w, h);
            if (Levels[i].Length != expected) throw new ArgumentException($"Level {i} ({w}×{h}, {Format}) needs {expected} bytes, not {Levels[i].Length}.");
        }
    }
}
