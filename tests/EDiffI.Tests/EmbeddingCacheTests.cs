using EDiffI.Encoders;
using EDiffI.Host.Data;
using EDiffI.Host.Runtime;
using static TorchSharp.torch;

namespace EDiffI.Tests;

/// <summary>The embedding cache of <c>encode</c> (issue 4, item 5).</summary>
public class EmbeddingCacheTests
{
    [Fact]
    public void CachedEmbeddingsEqualFreshOnesAndTrainingBatchesCarryThem()
    {
        using var folder = new TinyModel.TempFolder();
        string model = Path.Combine(TinyModel.RepositoryRoot, "models", "default");
        var t5Spec = new TextEncoderSpec { Kind = "t5", MaxTokens = 128, Path = Path.Combine(model, "t5"), Dimension = 128 };
        var clipSpec = new TextEncoderSpec { Kind = "clip", MaxTokens = 77, Path = Path.Combine(model, "clip") };
        var imageSpec = new ImageEncoderSpec { Path = Path.Combine(model, "clip") };
        using var t5 = new EDiffI.Plugins.T5.T5EncoderFactory().Create(t5Spec, null);
        using var clip = new EDiffI.Plugins.Clip.ClipTextEncoderFactory().Create(clipSpec, null);
        using var image = new EDiffI.Plugins.Clip.ClipImageEncoderFactory().Create(imageSpec, null);
        var world = new EDiffI.Plugins.World.ProceduralWorld(64);
        var index = EmbeddingCache.Write(folder.Path, "world:train", world, 20, 8, 5, t5, t5Spec, clip, clipSpec, image, imageSpec, CPU);
        Assert.Equal(3, index.Shards.Count);

        using var cache = new EmbeddingCacheSource(folder.Path);
        using var generator = new Generator(1);
        using var batch = cache.NextBatch(4, generator);
        var fresh = t5.Encode(batch.Captions, CPU).PadTo(128);
        var cached = batch.Conditioning!.T5Text!;
        Assert.True(cached.Mask.equal(fresh.Mask).all().item<bool>());
        Assert.True(cached.Tokens.allclose(fresh.Tokens, 1e-2, 1e-2)); // stored in fp16
        var freshClip = clip.Encode(batch.Captions, CPU);
        Assert.True(batch.Conditioning.ClipText!.Pooled!.allclose(freshClip.Pooled!, 1e-2, 1e-2));
        using var freshImage = image.Encode(batch.Images);
        Assert.True(batch.Conditioning.ClipImage!.allclose(freshImage, 2e-2, 2e-2)); // images stored as bytes
        Assert.True(batch.Images.min().item<float>() >= -1 && batch.Images.max().item<float>() <= 1);

        File.Delete(Path.Combine(folder.Path, "shard-00001.safetensors"));
        var e = Assert.Throws<UserException>(() => new EmbeddingCacheSource(folder.Path));
        Assert.Contains("shard-00001.safetensors is missing", e.Message);
    }
}
