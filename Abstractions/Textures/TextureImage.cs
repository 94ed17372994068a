namespace EDiffI.Textures;

/// <summary>
/// A texture level held as four floats per pixel (RGBA), row-major with the top row first, in the values the
/// file stores: sRGB-encoded colour for colour maps, <c>n·0.5 + 0.5</c> for normal maps, plain data for height
/// or roughness. Values are in [0, 1].
/// </summary>
public sealed class TextureImage
{
    /// <summary>Creates a level of <paramref name="width"/> × <paramref name="height"/> pixels, zeroed, or over <paramref name="pixels"/>.</summary>
    /// <exception cref="ArgumentException">When a side is not positive or <paramref name="pixels"/> has the wrong length.</exception>
    public TextureImage(int width, int height, float[]? pixels = null)
    {
        if (width <= 0 || height <= 0) throw new ArgumentException($"A texture needs positive sides (got {width}×{height}).");
        pixels ??= new float[checked(width * height * 4)];
        if (pixels.Length != (long)width * height * 4)
            throw new ArgumentException($"A {width}×{height} RGBA texture needs {(long)width * height * 4} floats, not {pixels.Length}.");
        Width = width;
        Height = height;
        Pixels = pixels;
    }

    /// <summary>Width in pixels.</summary>
    public int Width { get; }

    /// <summary>Height in pixels.</summary>
    public int Height { get; }

    /// <summary>RGBA floats, row-major, top row first.</summary>
    public float[] Pixels { get; }

    /// <summary>The level from RGBA8 bytes (row-major, top row first), each byte divided by 255.</summary>
    public static TextureImage FromRgba8(ReadOnlySpan<byte> rgba, int width, int height)
    {
        if (rgba.Length != (long)width * height * 4) throw new ArgumentException($"A {width}×{height} RGBA8 image needs {(long)width * height * 4} bytes, not {rgba.Length}.");
        var image = new TextureImage(width, height);
        for (int i = 0; i < rgba.Length; i++) image.Pixels[i] = rgba[i] / 255f;
        return image;
    }

    /// <summary>RGBA8 bytes: each value clamped to [0, 1], times 255, rounded to nearest.</summary>
    public byte[] ToRgba8()
    {
        var bytes = new byte[Pixels.Length];
        for (int i = 0; i < bytes.Length; i++) bytes[i] = Quantize(Pixels[i]);
        return bytes;
    }

    /// <summary>One value in [0, 1] as a byte (clamped, rounded half up), as the GPU passes quantise too.</summary>
    public static byte Quantize(float value) => (byte)MathF.Floor(Math.Clamp(value, 0f, 1f) * 255f + 0.5f);

    /// <summary>The first channel of every pixel, the layout <see cref="NormalMaps.FromHeight"/> takes.</summary>
    public float[] Channel(int channel)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(channel);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(channel, 3);
        var values = new float[Width * Height];
        for (int i = 0; i < values.Length; i++) values[i] = Pixels[i * 4 + channel];
        return values;
    }
}

/// <summary>What a texture's values mean, which decides how its mip levels are filtered.</summary>
public enum TextureKind
{
    /// <summary>sRGB-encoded colour (albedo): decoded to linear light, filtered, encoded again; alpha is filtered as is.</summary>
    Color,

    /// <summary>A tangent-space normal map, <c>rgb = n·0.5 + 0.5</c>: the vectors are filtered and renormalised per level.</summary>
    Normal,

    /// <summary>Linear data (height, roughness, masks): filtered as stored.</summary>
    Linear,
}

/// <summary>The green-channel convention of a tangent-space normal map.</summary>
public enum NormalConvention
{
    /// <summary>OpenGL (Unity, Blender, Godot): +Y points to the top of the image, "green up".</summary>
    OpenGL,

    /// <summary>DirectX (Unreal, Substance's DirectX preset): green flipped, +Y points to the bottom of the image.</summary>
    DirectX,
}
