namespace EDiffI.Textures;

/// <summary>
/// The CPU reference of the texture passes: sRGB transfer functions and mip chains. The Vulkan compute shaders
/// (Plugins/VulkanTextures/Shaders) compute the same formulas; the tests hold them to these within one 8-bit level.
/// </summary>
/// <remarks>
/// A mip level is half its parent on each side (rounded down, at least 1). Each pixel of the level is the
/// separable 4-tap filter [1, 3, 3, 1]/8 over the parent's pixels 2i−1 … 2i+2 on each axis (the bilinear
/// "tent" over the 2×2 parent footprint, widened by one pixel on each side so the level is smoother than a box).
/// The taps outside the parent wrap around for a tiling texture and clamp to the edge otherwise, so a periodic
/// texture's levels stay periodic. Colour is filtered in linear light (IEC 61966-2-1 sRGB decode, filter, encode);
/// normals are decoded to vectors, filtered and renormalised; linear data is filtered as stored. Each level is
/// filtered from its parent's unquantised values.
/// </remarks>
public static class TextureMath
{
    /// <summary>The weights of the mip filter, taps 2i−1, 2i, 2i+1, 2i+2.</summary>
    public static ReadOnlySpan<float> MipWeights => [0.125f, 0.375f, 0.375f, 0.125f];

    /// <summary>sRGB-encoded value to linear light (IEC 61966-2-1).</summary>
    public static float SrgbToLinear(float c) => c <= 0.04045f ? c / 12.92f : MathF.Pow((c + 0.055f) / 1.055f, 2.4f);

    /// <summary>Linear light to the sRGB-encoded value (IEC 61966-2-1), clamped to [0, 1].</summary>
    public static float LinearToSrgb(float l)
    {
        l = Math.Clamp(l, 0f, 1f);
        return l <= 0.0031308f ? l * 12.92f : 1.055f * MathF.Pow(l, 1f / 2.4f) - 0.055f;
    }

    /// <summary>The number of levels of a full chain down to 1×1: ⌊log2(max side)⌋ + 1.</summary>
    public static int LevelCount(int width, int height) => 1 + (int)Math.Floor(Math.Log2(Math.Max(width, height)));

    /// <summary>Index of a tap <paramref name="i"/> on an axis of <paramref name="n"/> pixels: wrapped around or clamped to the edge.</summary>
    public static int Address(int i, int n, bool wrap) => wrap ? ((i % n) + n) % n : Math.Clamp(i, 0, n - 1);

    /// <summary>
    /// The full mip chain of <paramref name="level0"/> (level 0 first, itself), filtered as <paramref name="kind"/> says,
    /// with wrap or clamp addressing on each axis. <paramref name="levels"/> limits the count (0 = the full chain).
    /// </summary>
    public static IReadOnlyList<TextureImage> MipChain(TextureImage level0, TextureKind kind, bool wrapX, bool wrapY, int levels = 0)
    {
        ArgumentNullException.ThrowIfNull(level0);
        int count = levels <= 0 ? LevelCount(level0.Width, level0.Height) : Math.Min(levels, LevelCount(level0.Width, level0.Height));
        var chain = new List<TextureImage>(count) { level0 };
        var state = Decode(level0, kind);
        int w = level0.Width, h = level0.Height;
        for (int k = 1; k < count; k++)
        {
            int w2 = Math.Max(1, w / 2), h2 = Math.Max(1, h / 2);
            state = Downsample(state, w, h, w2, h2, wrapX, wrapY);
            if (kind == TextureKind.Normal) Renormalize(state);
            chain.Add(Encode(state, w2, h2, kind));
            (w, h) = (w2, h2);
        }
        return chain;
    }

    /// <summary>Stored values to the filtering space: linear light for colour, vectors in [−1, 1] for normals.</summary>
    private static float[] Decode(TextureImage image, TextureKind kind)
    {
        var s = (float[])image.Pixels.Clone();
        for (int i = 0; i < s.Length; i += 4)
        {
            for (int c = 0; c < 3; c++)
                s[i + c] = kind switch { TextureKind.Color => SrgbToLinear(s[i + c]), TextureKind.Normal => s[i + c] * 2 - 1, _ => s[i + c] };
        }
        return s;
    }

    private static TextureImage Encode(float[] state, int w, int h, TextureKind kind)
    {
        var image = new TextureImage(w, h);
        var p = image.Pixels;
        for (int i = 0; i < p.Length; i += 4)
        {
            for (int c = 0; c < 3; c++)
                p[i + c] = kind switch { TextureKind.Color => LinearToSrgb(state[i + c]), TextureKind.Normal => Math.Clamp(state[i + c] * 0.5f + 0.5f, 0, 1), _ => Math.Clamp(state[i + c], 0, 1) };
            p[i + 3] = Math.Clamp(state[i + 3], 0, 1);
        }
        return image;
    }

    private static float[] Downsample(float[] src, int w, int h, int w2, int h2, bool wrapX, bool wrapY)
    {
        var dst = new float[w2 * h2 * 4];
        var weights = MipWeights;
        Span<float> sum = stackalloc float[4];
        for (int y = 0; y < h2; y++)
        {
            for (int x = 0; x < w2; x++)
            {
                sum.Clear();
                for (int ty = 0; ty < 4; ty++)
                {
                    int sy = Address(2 * y - 1 + ty, h, wrapY);
                    for (int tx = 0; tx < 4; tx++)
                    {
                        int sx = Address(2 * x - 1 + tx, w, wrapX);
                        float wt = weights[ty] * weights[tx];
                        int o = (sy * w + sx) * 4;
                        for (int c = 0; c < 4; c++) sum[c] += wt * src[o + c];
                    }
                }
                sum.CopyTo(dst.AsSpan((y * w2 + x) * 4, 4));
            }
        }
        return dst;
    }

    private static void Renormalize(float[] state)
    {
        for (int i = 0; i < state.Length; i += 4)
        {
            float len = MathF.Sqrt(state[i] * state[i] + state[i + 1] * state[i + 1] + state[i + 2] * state[i + 2]);
            if (len > 1e-8f) { state[i] /= len; state[i + 1] /= len; state[i + 2] /= len; }
            else { state[i] = 0; state[i + 1] = 0; state[i + 2] = 1; }
        }
    }
}
