using EDiffI.Plugins.Clip;
using EDiffI.Plugins.World;
using static TorchSharp.torch;

namespace EDiffI.Tools.ClipTraining;

/// <summary>A batch of image-caption pairs: images [B, 3, S, S] in [−1, 1], token ids and masks [B, L], and the scenes' labels.</summary>
internal sealed record PairBatch(Tensor Images, Tensor Ids, Tensor Mask, SceneLabels[] Labels) : IDisposable
{
    public void Dispose()
    {
        Images.Dispose();
        Ids.Dispose();
        Mask.Dispose();
    }
}

/// <summary>Draws image-caption pairs from the procedural world (half short, half long captions).</summary>
internal sealed class WorldPairs(ClipTokenizer tokenizer, int size, int maxTokens)
{
    public PairBatch Draw(long firstSeed, int n, WorldSplit split)
    {
        var pixels = new byte[n * size * size * 3];
        var captions = new string[n];
        var labels = new SceneLabels[n];
        Parallel.For(0, n, i =>
        {
            long seed = firstSeed + i;
            var scene = SceneSampler.Sample(seed, split);
            SceneRenderer.Render(scene, size, pixels.AsSpan(i * size * size * 3, size * size * 3), out _);
            captions[i] = (seed & 1) == 0 ? Captions.Short(scene, seed).Text : Captions.Long(scene, seed).Text;
            labels[i] = SceneLabels.Of(scene);
        });
        var (ids, mask) = tokenizer.EncodeBatch(captions, maxTokens);
        using var scope = NewDisposeScope();
        var images = SceneRenderer.ToImages(pixels, n, size);
        return new PairBatch(images.MoveToOuterDisposeScope(), tensor(ids, [n, maxTokens]).MoveToOuterDisposeScope(),
            tensor(mask, [n, maxTokens]).MoveToOuterDisposeScope(), labels);
    }
}
