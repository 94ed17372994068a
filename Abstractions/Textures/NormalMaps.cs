namespace EDiffI.Textures;

/// <summary>
/// Tangent-space normal maps from height maps: the one convention of the framework, shared by the Vulkan pass,
/// the CPU fallback of the <c>texture</c> verb and the PBR maps of generated materials.
/// </summary>
/// <remarks>
/// <para>Height is in [0, 1], white high, row-major with the top row first. The gradient is the 3×3 Sobel operator
/// divided by 8, so it is in height units per pixel (a ramp rising by g per pixel gives exactly g):</para>
/// <para><c>dh/dx = [h(x+1, y−1) + 2h(x+1, y) + h(x+1, y+1) − h(x−1, y−1) − 2h(x−1, y) − h(x−1, y+1)] / 8</c>, x to the right;</para>
/// <para><c>dh/dy = [h(x−1, y−1) + 2h(x, y−1) + h(x+1, y−1) − h(x−1, y+1) − 2h(x, y+1) − h(x+1, y+1)] / 8</c>, measured
/// toward the top of the image (row y−1 is above row y).</para>
/// <para>Taps beyond an edge wrap around for a tiling texture and clamp to the edge otherwise. With strength s, the
/// OpenGL normal (+Y up, "green up") is <c>n = normalize(−s·dh/dx, −s·dh/dy, 1)</c>; the DirectX normal flips green,
/// <c>n = normalize(−s·dh/dx, +s·dh/dy, 1)</c>. The stored colour is <c>rgb = n·0.5 + 0.5</c>, alpha 1.</para>
/// </remarks>
public static class NormalMaps
{
    /// <summary>
    /// The normal map of <paramref name="height"/> (<paramref name="width"/> × <paramref name="rows"/> values, row-major,
    /// top row first) as RGB floats in [0, 1], three per pixel, in the same layout.
    /// </summary>
    /// <param name="height">Heights in [0, 1], white high.</param>
    /// <param name="width">Pixels per row.</param>
    /// <param name="rows">Rows.</param>
    /// <param name="strength">Scales the gradient (s above); 0 gives flat normals.</param>
    /// <param name="wrapX">Wrap around left and right (a texture that tiles horizontally); else clamp.</param>
    /// <param name="wrapY">Wrap around top and bottom; else clamp.</param>
    /// <param name="convention">OpenGL (green up) or DirectX (green down).</param>
    public static float[] FromHeight(float[] height, int width, int rows, float strength, bool wrapX, bool wrapY, NormalConvention convention)
    {
        ArgumentNullException.ThrowIfNull(height);
        if (width <= 0 || rows <= 0 || height.Length != (long)width * rows)
            throw new ArgumentException($"A {width}×{rows} height map needs {(long)width * rows} values, not {height.Length}.");
        if (!float.IsFinite(strength)) throw new ArgumentException($"The normal strength must be a finite number (got {strength}).");
        var rgb = new float[width * rows * 3];
        float greenSign = convention == NormalConvention.OpenGL ? -1f : 1f;
        for (int y = 0; y < rows; y++)
        {
            int up = TextureMath.Address(y - 1, rows, wrapY), down = TextureMath.Address(y + 1, rows, wrapY);
            for (int x = 0; x < width; x++)
            {
                int left = TextureMath.Address(x - 1, width, wrapX), right = TextureMath.Address(x + 1, width, wrapX);
                float H(int xx, int yy) => height[yy * width + xx];
                float dx = (H(right, up) + 2 * H(right, y) + H(right, down) - H(left, up) - 2 * H(left, y) - H(left, down)) / 8f;
                float dy = (H(left, up) + 2 * H(x, up) + H(right, up) - H(left, down) - 2 * H(x, down) - H(right, down)) / 8f;
                var (nx, ny, nz) = Normalize(-strength * dx, greenSign * strength * dy, 1f);
                int o = (y * width + x) * 3;
                rgb[o] = nx * 0.5f + 0.5f;
                rgb[o + 1] = ny * 0.5f + 0.5f;
                rgb[o + 2] = nz * 0.5f + 0.5f;
            }
        }
        return rgb;
    }

    /// <summary><see cref="FromHeight"/> as an RGBA texture level (alpha 1).</summary>
    public static TextureImage FromHeightImage(float[] height, int width, int rows, float strength, bool wrapX, bool wrapY, NormalConvention convention)
    {
        var rgb = FromHeight(height, width, rows, strength, wrapX, wrapY, convention);
        var image = new TextureImage(width, rows);
        for (int i = 0, j = 0; i < rgb.Length; i += 3, j += 4)
        {
            image.Pixels[j] = rgb[i];
            image.Pixels[j + 1] = rgb[i + 1];
            image.Pixels[j + 2] = rgb[i + 2];
            image.Pixels[j + 3] = 1;
        }
        return image;
    }

    /// <summary>The unit normal that an encoded colour stores: <c>n = rgb·2 − 1</c>, normalised.</summary>
    public static (float X, float Y, float Z) Decode(float r, float g, float b) => Normalize(r * 2 - 1, g * 2 - 1, b * 2 - 1);

    private static (float, float, float) Normalize(float x, float y, float z)
    {
        float len = MathF.Sqrt(x * x + y * y + z * z);
        return len > 0 ? (x / len, y / len, z / len) : (0, 0, 1);
    }
}
