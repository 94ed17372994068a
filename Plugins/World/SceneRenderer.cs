using static TorchSharp.torch;

namespace EDiffI.Plugins.World;

/// <summary>A drawn scene: pixels, one mask per object, and its captions.</summary>
public sealed record RenderedScene(Scene Scene, byte[] Rgb, bool[][] Masks, Caption Short, Caption Long);

/// <summary>Draws scenes to pixels and masks.</summary>
public static class SceneRenderer
{
    /// <summary>The scene drawn from <paramref name="seed"/> at <paramref name="size"/> pixels, with captions.</summary>
    public static RenderedScene Render(long seed, WorldSplit split, int size)
    {
        var scene = SceneSampler.Sample(seed, split);
        var rgb = new byte[size * size * 3];
        Render(scene, size, rgb, out var masks);
        return new RenderedScene(scene, rgb, masks, Captions.Short(scene, seed), Captions.Long(scene, seed));
    }

    /// <summary>
    /// <paramref name="count"/> drawn images packed one after another in <paramref name="hwc"/> (H×W×3 bytes each,
    /// row-major, <paramref name="size"/> square) as [count, 3, size, size] float32 in [−1, 1].
    /// </summary>
    public static Tensor ToImages(byte[] hwc, int count, int size)
    {
        if (hwc.Length != (long)count * size * size * 3) throw new ArgumentException($"{hwc.Length} bytes are not {count} images of {size}×{size}×3", nameof(hwc));
        using var scope = NewDisposeScope();
        var images = (tensor(hwc, [count, size, size, 3]).permute(0, 3, 1, 2).to(ScalarType.Float32) / 127.5 - 1).contiguous();
        return images.MoveToOuterDisposeScope();
    }

    /// <summary>Drawn images (H×W×3 bytes each, all the same square size) as [N, 3, H, W] float32 in [−1, 1].</summary>
    public static Tensor ToImages(IEnumerable<byte[]> rgb)
    {
        var list = rgb.ToList();
        if (list.Count == 0) throw new ArgumentException("no images", nameof(rgb));
        int size = (int)Math.Round(Math.Sqrt(list[0].Length / 3.0));
        var all = new byte[list.Sum(r => (long)r.Length)];
        for (int i = 0; i < list.Count; i++) list[i].CopyTo(all, (long)i * list[0].Length);
        return ToImages(all, list.Count, size);
    }

    /// <summary>Draws <paramref name="scene"/> into <paramref name="rgb"/> (H×W×3) and returns each object's mask (later objects on top).</summary>
    public static void Render(Scene scene, int size, Span<byte> rgb, out bool[][] masks) =>
        Render(scene, size, new PixelWindow(0, 0, size, size), rgb, out masks);

    /// <summary>
    /// Draws the <paramref name="window"/> of <paramref name="scene"/> at <paramref name="size"/> pixels into <paramref name="rgb"/>
    /// (window-sized, H×W×3), exactly the pixels the whole image has there, and returns each object's mask over the window.
    /// </summary>
    public static void Render(Scene scene, int size, PixelWindow window, Span<byte> rgb, out bool[][] masks)
    {
        TextureRenderer.Render(scene.Background, size, window, rgb);
        masks = new bool[scene.Objects.Count][];
        for (int k = 0; k < scene.Objects.Count; k++)
        {
            var o = scene.Objects[k];
            var mask = masks[k] = new bool[window.Width * window.Height];
            var color = Palette.Colors[o.Color];
            int contrast = Palette.IndexOf(color.R + color.G + color.B > 380 ? "black" : "white");
            var fill = o.Texture is TextureFamily f
                ? new TextureSpec(f, o.Color, contrast, TextureScale.Small, TextureOrientation.Horizontal, false, true, 7)
                : null;
            // Only the object's bounding box can be covered.
            double cx = (o.Column + 0.5) / 3 + o.DX, cy = (o.Row + 0.5) / 3 + o.DY;
            int x0 = Math.Max(window.X, (int)((cx - o.Size) * size) - 1), x1 = Math.Min(window.X + window.Width - 1, (int)((cx + o.Size) * size) + 1);
            int y0 = Math.Max(window.Y, (int)((cy - o.Size) * size) - 1), y1 = Math.Min(window.Y + window.Height - 1, (int)((cy + o.Size) * size) + 1);
            for (int y = y0; y <= y1; y++)
            {
                for (int x = x0; x <= x1; x++)
                {
                    double u = (x + 0.5) / size, v = (y + 0.5) / size;
                    if (!o.Covers(u, v)) continue;
                    int p = (y - window.Y) * window.Width + (x - window.X);
                    mask[p] = true;
                    for (int j = 0; j < k; j++) masks[j][p] = false; // occluded
                    var c = color;
                    if (fill is not null)
                    {
                        var (t, _) = TextureRenderer.Sample(fill, u * 3, v * 3);
                        c = t < 0.5 ? color : Palette.Colors[contrast];
                    }
                    rgb[p * 3] = c.R;
                    rgb[p * 3 + 1] = c.G;
                    rgb[p * 3 + 2] = c.B;
                }
            }
        }
    }
}

/// <summary>A rectangle of pixels of a <c>size</c>-pixel image: its top-left corner and its extent.</summary>
/// <param name="X">First column.</param>
/// <param name="Y">First row.</param>
/// <param name="Width">Columns.</param>
/// <param name="Height">Rows.</param>
public readonly record struct PixelWindow(int X, int Y, int Width, int Height);
