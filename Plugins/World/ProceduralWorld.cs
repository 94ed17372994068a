using EDiffI.Data;
using static TorchSharp.torch;

namespace EDiffI.Plugins.World;

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
