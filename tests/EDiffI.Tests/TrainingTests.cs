using EDiffI.Diffusion;
using EDiffI.Host.Runtime;
using EDiffI.Host.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace EDiffI.Tests;

public class TrainingTests
{
    private static TrainingOptions Options(long steps) => new()
    {
        BatchSize = 4, Steps = steps, LearningRate = 2e-3, WarmupSteps = 5, CheckpointEvery = 3, Seed = 11, DropProbability = 0.2,
    };

    private static Trainer Create(TrainingOptions o, FixedImages data, string folder, string? resume = null) =>
        new(o, new EDiffI.Plugins.UNet.UNetFamily(), () => new EDiffI.Plugins.UNet.EDiffIUNet(TinyModel.Config), TinyModel.Manifest,
            TinyModel.T5(), TinyModel.Clip(), data, CPU, ScalarType.Float32, folder, resume);

    [Fact]
    public void TinyUNetOverfitsAHandfulOfImages()
    {
        using var folder = new TinyModel.TempFolder();
        using var data = new FixedImages();
        using var trainer = Create(Options(250) with { CheckpointEvery = 1000, DropProbability = 0 }, data, folder.Path);
        double Eval()
        {
            // Loss on a fixed set of images, σ and noise, so the two numbers are comparable.
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            using var g = new Generator(99);
            using var batch = data.NextBatch(32, g);
            var sigma = Edm.SampleTrainingSigma(32, -1.2, 1.2, g, CPU);
            var noise = randn(batch.Images.shape, generator: g);
            var pipeline = new EDiffI.Denoising.PreconditionedDenoiser(trainer.Model);
            using var t5 = TinyModel.T5();
            using var clip = TinyModel.Clip();
            var cond = new EDiffI.Conditioning.ConditioningInputs(t5.Encode(batch.Captions, CPU), clip.Encode(batch.Captions, CPU));
            return Edm.TrainingLoss(pipeline, batch.Images, sigma, noise, cond).mean().item<float>();
        }
        double before = Eval();
        trainer.Run();
        double after = Eval();
        Assert.True(after < before / 3, $"loss fell from {before:0.0000} to {after:0.0000}, expected at least a factor of 3");
    }

    [Fact]
    public void TilingBatchesTrainThroughCircularPadding()
    {
        // The same run with every batch tiled moves the weights elsewhere than with none: the wrap is in the graph.
        Dictionary<string, Tensor> After(double share)
        {
            using var folder = new TinyModel.TempFolder();
            using var data = new FixedImages();
            using var trainer = Create(Options(2) with { CheckpointEvery = 1000, TileProbability = share }, data, folder.Path);
            trainer.Run();
            return Snapshot(trainer);
        }
        var none = After(0);
        var again = After(0);
        var tiled = After(1);
        Assert.All(none, kv => Assert.True(kv.Value.eq(again[kv.Key]).all().item<bool>(), $"{kv.Key} differs between two identical runs"));
        Assert.Contains(none, kv => !kv.Value.allclose(tiled[kv.Key], 1e-6, 1e-7));
        using var folder = new TinyModel.TempFolder();
        using var data = new FixedImages();
        var e = Assert.Throws<UserException>(() => Create(Options(2) with { TileProbability = 1.5 }, data, folder.Path));
        Assert.Contains("--tile-probability", e.Message);
    }

    private static Dictionary<string, Tensor> Snapshot(Trainer t) =>
        t.Model.Module.state_dict().Concat(t.Ema.Select(kv => KeyValuePair.Create("ema/" + kv.Key, kv.Value)))
            .ToDictionary(kv => kv.Key, kv => kv.Value.clone());

    [Fact]
    public void ResumedRunEqualsUninterruptedRunExactly()
    {
        using var data = new FixedImages();
        using var straightFolder = new TinyModel.TempFolder();
        Dictionary<string, Tensor> straight;
        using (var t = Create(Options(7), data, straightFolder.Path))
        {
            t.Run();
            straight = Snapshot(t);
        }

        using var folder = new TinyModel.TempFolder();
        using (var first = Create(Options(7), data, folder.Path))
        {
            // Train past the checkpoint at step 6, then "die" before finishing: the extra step is lost.
            for (int i = 0; i < 6; i++) first.TrainStep();
            first.SaveCheckpoint();
        }
        string latest = Checkpoint.FindLatest(Path.Combine(folder.Path, "checkpoints"))!;
        using var resumed = Create(Options(7), data, folder.Path, latest);
        Assert.Equal(6, resumed.Step);
        resumed.Run();
        var result = Snapshot(resumed);
        Assert.Equal(straight.Keys.Order(), result.Keys.Order());
        foreach (var (name, value) in straight)
            Assert.True(value.equal(result[name]).all().item<bool>(), $"{name} differs after resuming");
    }

    private static string Hash(string folder) => string.Join(",", Directory.GetFiles(folder, "*", SearchOption.AllDirectories).Order()
        .Select(f => f + ":" + Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(f)))));

    [Theory]
    [InlineData("truncate", "truncated")]
    [InlineData("flip", "corrupt")]
    [InlineData("delete-meta", "incomplete")]
    [InlineData("delete-shard", "incomplete")]
    public void DamagedCheckpointIsRefusedAndNothingIsOverwritten(string damage, string word)
    {
        using var data = new FixedImages();
        using var folder = new TinyModel.TempFolder();
        using (var t = Create(Options(3), data, folder.Path)) t.Run();
        string ckpt = Checkpoint.FindLatest(Path.Combine(folder.Path, "checkpoints"))!;
        string tensors = Path.Combine(ckpt, "state-000.safetensors");
        switch (damage)
        {
            case "truncate":
                using (var f = File.OpenWrite(tensors)) f.SetLength(f.Length / 2);
                break;
            case "flip":
                var bytes = File.ReadAllBytes(tensors);
                bytes[^10] ^= 0xFF;
                File.WriteAllBytes(tensors, bytes);
                break;
            case "delete-shard":
                File.Delete(tensors);
                break;
            default:
                File.Delete(Path.Combine(ckpt, "state.json"));
                break;
        }
        string before = Hash(folder.Path);
        var e = Assert.Throws<UserException>(() => Create(Options(6), data, folder.Path, ckpt));
        Assert.Contains(word, e.Message);
        Assert.Contains("Nothing was changed", e.Message);
        Assert.Equal(before, Hash(folder.Path));
    }
}
