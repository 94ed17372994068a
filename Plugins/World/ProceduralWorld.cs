using EDiffI.Data;
using static TorchSharp.torch;

namespace EDiffI.Plugins.World;

/// <summary>Which captions the world's dataset source yields.</summary>
public enum CaptionStyle { Short, Long, Mixed }

/// <summary>
/// Random crops for a super-resolution stage: a <paramref name="Crop"/>-pixel window of each scene at the source's
/// resolution, and the same window of the scene drawn at <paramref name="LowResolution"/>.
/// </summary>
public sealed record WorldCrops(int LowResolution, int Crop);

/// <summary>
/// The procedural world as a training source: an unlimited stream of captioned scenes, each drawn
/// from a seed the generator supplies, rendered in parallel. With <paramref name="crops"/> it yields
/// random windows of each scene at two resolutions (the ground truth of a super-resolution stage): only
/// the windows are drawn, so a 1024-pixel stage trains at the cost of its crops.
/// </summary>
public sealed class ProceduralWorld(int resolution, WorldSplit split = WorldSplit.Train, CaptionStyle captions = CaptionStyle.Mixed,
    WorldCrops? crops = null) : IDatasetSource
{
    /// <inheritdoc />
    public int Resolution { get; } = crops?.Crop ?? resolution;

    /// <summary>Side of the whole scene the crops are cut from.</summary>
    public int SceneResolution { get; } = Check(resolution, crops);

    private static int Check(int resolution, WorldCrops? crops)
    {
        if (crops is null) return resolution;
        int factor = crops.LowResolution > 0 ? resolution / crops.LowResolution : 0;
        if (factor < 2 || resolution % crops.LowResolution != 0)
            throw new ArgumentException($"the low resolution {crops.LowResolution} must divide {resolution} at least twice");
        if (crops.Crop <= 0 || crops.Crop > resolution || crops.Crop % factor != 0)
            throw new ArgumentException($"the crop {crops.Crop} must be at most {resolution} and a multiple of {factor}");
        return resolution;
    }

    /// <inheritdoc />
    public long? Count => null;

    /// <summary>The split it draws from.</summary>
    public WorldSplit Split { get; } = split;

    /// <inheritdoc />
    public TrainingBatch NextBatch(int batchSize, Generator generator) => NextBatch(batchSize, generator, new BatchShare(0, batchSize));

    /// <inheritdoc />
    /// <remarks>The seeds of the whole batch are drawn; only the share's scenes are rendered.</remarks>
    public TrainingBatch NextBatch(int batchSize, Generator generator, BatchShare share)
    {
        long[] seeds;
        using (var drawn = randint(0, long.MaxValue, [batchSize], dtype: ScalarType.Int64, generator: generator))
            seeds = drawn.data<long>().Skip(share.Offset).Take(share.Count).ToArray();
        batchSize = seeds.Length;
        if (crops is not null) return NextCrops(seeds);
        int plane = Resolution * Resolution, n = plane * 3;
        var images = new float[batchSize * n];
        var texts = new string[batchSize];
        Parallel.For(0, batchSize, () => new byte[n], (i, state, rgb) =>
        {
            var scene = SceneSampler.Sample(seeds[i], Split);
            SceneRenderer.Render(scene, Resolution, rgb, out _);
            // HWC bytes to CHW floats in [−1, 1], in the worker, so the tensor is made in one copy.
            ToPlanes(rgb, images.AsSpan(i * n, n), plane);
            texts[i] = CaptionOf(scene, seeds[i]);
            return rgb;
        }, rgb => { });
        return new TrainingBatch(tensor(images, [batchSize, 3, Resolution, Resolution]), texts);
    }

    // Each scene's window: a corner on the low-resolution grid drawn from the scene's seed, so batches stay
    // reproducible from the generator alone.
    private TrainingBatch NextCrops(long[] seeds)
    {
        int size = SceneResolution, crop = crops!.Crop, low = crops.LowResolution, factor = size / low, lowCrop = crop / factor;
        int batch = seeds.Length, n = crop * crop * 3, nLow = lowCrop * lowCrop * 3;
        var high = new float[batch * n];
        var lowImages = new float[batch * nLow];
        var texts = new string[batch];
        Parallel.For(0, batch, i =>
        {
            var scene = SceneSampler.Sample(seeds[i], Split);
            var random = new Random(unchecked((int)(seeds[i] ^ (seeds[i] >> 32))));
            int cells = (size - crop) / factor + 1;
            int x = random.Next(cells) * factor, y = random.Next(cells) * factor;
            var rgb = new byte[n];
            SceneRenderer.Render(scene, size, new PixelWindow(x, y, crop, crop), rgb, out _);
            ToPlanes(rgb, high.AsSpan(i * n, n), crop * crop);
            var rgbLow = new byte[nLow];
            SceneRenderer.Render(scene, low, new PixelWindow(x / factor, y / factor, lowCrop, lowCrop), rgbLow, out _);
            ToPlanes(rgbLow, lowImages.AsSpan(i * nLow, nLow), lowCrop * lowCrop);
            texts[i] = CaptionOf(scene, seeds[i]);
        });
        return new TrainingBatch(tensor(high, [batch, 3, crop, crop]), texts, LowResolution: tensor(lowImages, [batch, 3, lowCrop, lowCrop]));
    }

    // The caption style asked for; mixed takes the long caption for odd seeds.
    private string CaptionOf(Scene scene, long seed)
    {
        bool useLong = captions == CaptionStyle.Long || (captions == CaptionStyle.Mixed && (seed & 1) == 1);
        return (useLong ? Captions.Long(scene, seed) : Captions.Short(scene, seed)).Text;
    }

    // HWC bytes to CHW floats in [−1, 1].
    private static void ToPlanes(byte[] rgb, Span<float> chw, int plane)
    {
        for (int p = 0; p < plane; p++)
        {
            chw[p] = rgb[p * 3] / 127.5f - 1;
            chw[plane + p] = rgb[p * 3 + 1] / 127.5f - 1;
            chw[2 * plane + p] = rgb[p * 3 + 2] / 127.5f - 1;
        }
    }
}
