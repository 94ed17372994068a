using EDiffI.Plugins.World;

namespace EDiffI.Textures.Tests;

/// <summary>Inputs of the texture tests: world textures (the procedural training world) and measures.</summary>
public static class TestImages
{
    /// <summary>Tileable world textures of several families, as the generator would emit them.</summary>
    public static IEnumerable<(string Name, TextureImage Image)> World(int size = 128)
    {
        var specs = new[]
        {
            new TextureSpec(TextureFamily.Bricks, 0, 9, TextureScale.Medium, TextureOrientation.Horizontal, false, false, 11),
            new TextureSpec(TextureFamily.Marble, 9, 5, TextureScale.Large, TextureOrientation.Horizontal, false, true, 12),
            new TextureSpec(TextureFamily.Grass, 3, 4, TextureScale.Small, TextureOrientation.Vertical, true, false, 13),
            new TextureSpec(TextureFamily.Cobblestones, 7, 10, TextureScale.Medium, TextureOrientation.Horizontal, false, false, 14),
            new TextureSpec(TextureFamily.Clouds, 2, 9, TextureScale.Large, TextureOrientation.Horizontal, true, false, 15),
            new TextureSpec(TextureFamily.Tiles, 5, 9, TextureScale.Small, TextureOrientation.Horizontal, false, true, 16),
        };
        foreach (var spec in specs)
        {
            var rgb = new byte[size * size * 3];
            TextureRenderer.Render(spec, size, rgb);
            var image = new TextureImage(size, size);
            for (int i = 0; i < size * size; i++)
            {
                for (int c = 0; c < 3; c++) image.Pixels[i * 4 + c] = rgb[i * 3 + c] / 255f;
                image.Pixels[i * 4 + 3] = 1;
            }
            yield return (spec.Family.ToString(), image);
        }
    }

    /// <summary>PSNR in dB over the RGB channels of two RGBA8 images.</summary>
    public static double Psnr(byte[] a, byte[] b)
    {
        double se = 0;
        long n = 0;
        for (int i = 0; i < a.Length; i++)
        {
            if (i % 4 == 3) continue;
            double d = a[i] - b[i];
            se += d * d;
            n++;
        }
        double mse = se / n;
        return mse == 0 ? double.PositiveInfinity : 10 * Math.Log10(255.0 * 255.0 / mse);
    }

    /// <summary>The height field of a colour image: the mean of its encoded RGB.</summary>
    public static float[] Height(TextureImage image)
    {
        var h = new float[image.Width * image.Height];
        for (int i = 0; i < h.Length; i++) h[i] = (image.Pixels[i * 4] + image.Pixels[i * 4 + 1] + image.Pixels[i * 4 + 2]) / 3;
        return h;
    }

    /// <summary>Angle in degrees between two vectors.</summary>
    public static double AngleDegrees((double X, double Y, double Z) a, (double X, double Y, double Z) b)
    {
        double dot = a.X * b.X + a.Y * b.Y + a.Z * b.Z;
        double la = Math.Sqrt(a.X * a.X + a.Y * a.Y + a.Z * a.Z), lb = Math.Sqrt(b.X * b.X + b.Y * b.Y + b.Z * b.Z);
        return Math.Acos(Math.Clamp(dot / (la * lb), -1, 1)) * 180 / Math.PI;
    }
}
