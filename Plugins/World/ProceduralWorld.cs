using EDiffI.Data;
using EDiffI.Extensibility;
using EDiffI.Plugins.World;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using static TorchSharp.torch;

[assembly: EDiffIPlugin("World", "0.1.0", PluginContract.Version, typeof(WorldPlugin))]

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
    public static void Render(Scene scene, int size, Span<byte> rgb, out bool[][] masks)
    {
        TextureRenderer.Render(scene.Background, size, rgb);
        masks = new bool[scene.Objects.Count][];
        for (int k = 0; k < scene.Objects.Count; k++)
        {
            var o = scene.Objects[k];
            var mask = masks[k] = new bool[size * size];
            var color = Palette.Colors[o.Color];
            int contrast = Palette.IndexOf(color.R + color.G + color.B > 380 ? "black" : "white");
            var fill = o.Texture is TextureFamily f
                ? new TextureSpec(f, o.Color, contrast, TextureScale.Small, TextureOrientation.Horizontal, false, true, 7)
                : null;
            // Only the object's bounding box can be covered.
            double cx = (o.Column + 0.5) / 3 + o.DX, cy = (o.Row + 0.5) / 3 + o.DY;
            int x0 = Math.Max(0, (int)((cx - o.Size) * size) - 1), x1 = Math.Min(size - 1, (int)((cx + o.Size) * size) + 1);
            int y0 = Math.Max(0, (int)((cy - o.Size) * size) - 1), y1 = Math.Min(size - 1, (int)((cy + o.Size) * size) + 1);
            for (int y = y0; y <= y1; y++)
            {
                for (int x = x0; x <= x1; x++)
                {
                    double u = (x + 0.5) / size, v = (y + 0.5) / size;
                    if (!o.Covers(u, v)) continue;
                    int p = y * size + x;
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

/// <summary>Which captions the world's dataset source yields.</summary>
public enum CaptionStyle { Short, Long, Mixed }

/// <summary>
/// The procedural world as a training source: an unlimited stream of captioned scenes, each drawn
/// from a seed the generator supplies, rendered in parallel.
/// </summary>
public sealed class ProceduralWorld(int resolution, WorldSplit split = WorldSplit.Train, CaptionStyle captions = CaptionStyle.Mixed) : IDatasetSource
{
    /// <inheritdoc />
    public int Resolution { get; } = resolution;

    /// <inheritdoc />
    public long? Count => null;

    /// <summary>The split it draws from.</summary>
    public WorldSplit Split { get; } = split;

    /// <inheritdoc />
    public TrainingBatch NextBatch(int batchSize, Generator generator)
    {
        long[] seeds;
        using (var drawn = randint(0, long.MaxValue, [batchSize], dtype: ScalarType.Int64, generator: generator))
            seeds = drawn.data<long>().ToArray();
        int plane = Resolution * Resolution, n = plane * 3;
        var images = new float[batchSize * n];
        var texts = new string[batchSize];
        Parallel.For(0, batchSize, () => new byte[n], (i, state, rgb) =>
        {
            var scene = SceneSampler.Sample(seeds[i], Split);
            SceneRenderer.Render(scene, Resolution, rgb, out _);
            // HWC bytes to CHW floats in [−1, 1], in the worker, so the tensor is made in one copy.
            var chw = images.AsSpan(i * n, n);
            for (int p = 0; p < plane; p++)
            {
                chw[p] = rgb[p * 3] / 127.5f - 1;
                chw[plane + p] = rgb[p * 3 + 1] / 127.5f - 1;
                chw[2 * plane + p] = rgb[p * 3 + 2] / 127.5f - 1;
            }
            bool useLong = captions == CaptionStyle.Long || (captions == CaptionStyle.Mixed && (seeds[i] & 1) == 1);
            texts[i] = (useLong ? Captions.Long(scene, seeds[i]) : Captions.Short(scene, seeds[i])).Text;
            return rgb;
        }, rgb => { });
        return new TrainingBatch(tensor(images, [batchSize, 3, Resolution, Resolution]), texts);
    }
}

/// <summary>"world:train", "world:heldout", optionally with ",short" or ",long" captions.</summary>
public sealed class WorldSourceFactory : IDatasetSourceFactory
{
    /// <inheritdoc />
    public string Scheme => "world";

    /// <inheritdoc />
    public string Usage => "world:train or world:heldout, optionally followed by ,short / ,long / ,mixed captions";

    /// <inheritdoc />
    public IDatasetSource Create(string argument, int resolution)
    {
        var parts = argument.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        var split = parts.Length == 0 || parts[0] == "train" ? WorldSplit.Train
            : parts[0] is "heldout" or "held-out" ? WorldSplit.HeldOut
            : throw new ArgumentException($"unknown world split '{parts[0]}' ({Usage})");
        var style = parts.Length < 2 ? CaptionStyle.Mixed
            : Enum.TryParse<CaptionStyle>(parts[1], ignoreCase: true, out var c) ? c
            : throw new ArgumentException($"unknown caption style '{parts[1]}' ({Usage})");
        return new ProceduralWorld(resolution, split, style);
    }
}

/// <summary>The plugin's registration entry point.</summary>
public sealed class WorldPlugin : IPluginRegistration
{
    /// <inheritdoc />
    public void Register(IServiceCollection services, IConfiguration configuration) =>
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IDatasetSourceFactory, WorldSourceFactory>());
}
