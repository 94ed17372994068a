using EDiffI.Conditioning;
using EDiffI.Host.Runtime;
using EDiffI.Host.Training;
using EDiffI.IO;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EDiffI.Tests;

/// <summary>The trainer's fast path: the flat optimizer, the scene pool and its background producer, the deferred loss read.</summary>
public class TrainerThroughputTests
{
    private static TrainingOptions Options(long steps) => new()
    {
        BatchSize = 4, Steps = steps, LearningRate = 2e-3, WarmupSteps = 5, CheckpointEvery = 3, Seed = 11, DropProbability = 0.2,
    };

    private static Trainer Create(TrainingOptions o, FixedImages data, string folder, string? resume = null) =>
        new(o, new EDiffI.Plugins.UNet.UNetFamily(), () => new EDiffI.Plugins.UNet.EDiffIUNet(TinyModel.Config), TinyModel.Manifest,
            TinyModel.T5(), TinyModel.Clip(), data, CPU, ScalarType.Float32, folder, resume);

    private static Dictionary<string, Tensor> Snapshot(Trainer t) =>
        t.Model.Module.state_dict().Concat(t.Ema.Select(kv => KeyValuePair.Create("ema/" + kv.Key, kv.Value)))
            .ToDictionary(kv => kv.Key, kv => kv.Value.clone());

    private static void AssertSame(Dictionary<string, Tensor> expected, Dictionary<string, Tensor> actual, string what)
    {
        Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
        foreach (var (name, value) in expected)
            Assert.True(value.equal(actual[name]).all().item<bool>(), $"{name} differs {what}");
    }

    [Fact]
    public void FlatAdamWTakesTheStepsOfTorchSharpsAdamWWithClippingAndEma()
    {
        // Two copies of one small network, one trained by TorchSharp's AdamW, clip_grad_norm_ and a per-tensor EMA, the
        // other by the flat buffers; the same batches give the same weights and EMA to float32 rounding.
        manual_seed(3);
        var reference = nn.Sequential(("a", nn.Linear(6, 8)), ("act", nn.Tanh()), ("b", nn.Linear(8, 3)));
        var flatNet = nn.Sequential(("a", nn.Linear(6, 8)), ("act", nn.Tanh()), ("b", nn.Linear(8, 3)));
        flatNet.load_state_dict(reference.state_dict());
        var refParams = reference.named_parameters().ToList();
        var optimizer = optim.AdamW(refParams.Select(p => p.parameter), 0.05, 0.9, 0.999, 1e-8, 0.01);
        var refEma = refParams.ToDictionary(p => p.name, p => p.parameter.detach().clone());
        using var flat = new FlatParameters(flatNet.named_parameters().Select(p => (p.name, p.parameter)).ToList(), 0.9, 0.999, 1e-8, 0.01);
        using var g = new Generator(5);
        for (int step = 1; step <= 6; step++)
        {
            var x = randn(16, 6, generator: g) * 3;
            var y = randn(16, 3, generator: g);
            double lr = 0.05 * Math.Min(1, step / 3.0), decay = 0.8;

            optimizer.zero_grad();
            nn.functional.mse_loss(reference.forward(x), y).backward();
            nn.utils.clip_grad_norm_(refParams.Select(p => p.parameter), 0.5); // small enough that clipping acts
            foreach (var group in optimizer.ParamGroups) group.LearningRate = lr;
            optimizer.step();
            using (no_grad())
                foreach (var (name, p) in refParams) refEma[name].mul_(decay).add_(p, 1 - decay);

            flat.ZeroGradients();
            nn.functional.mse_loss(flatNet.forward(x), y).backward();
            flat.ClipGradientNorm(0.5);
            flat.Step(lr);
            flat.UpdateEma(decay);
        }
        var flatParams = flatNet.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        foreach (var (name, p) in refParams)
        {
            Assert.True(p.allclose(flatParams[name], 1e-5, 1e-6), $"{name}: the flat AdamW's weights differ from TorchSharp's");
            Assert.True(refEma[name].allclose(flat.Ema[name], 1e-5, 1e-6), $"{name}: the flat EMA differs");
        }
        Assert.Equal(6, flat.Steps);
    }

    [Fact]
    public void FlatParametersKeepTheModulesOwnParametersAndGradients()
    {
        var net = nn.Linear(4, 2);
        var parameters = net.named_parameters().Select(p => (p.name, p.parameter)).ToList();
        var before = parameters.ToDictionary(p => p.name, p => p.parameter.detach().clone());
        using var flat = new FlatParameters(parameters);
        Assert.Equal(10, flat.Count);
        foreach (var (name, p) in parameters)
        {
            Assert.True(p.equal(before[name]).all().item<bool>(), $"{name} changed when laid out");
            Assert.True(p.equal(flat.Ema[name]).all().item<bool>(), $"{name}: the EMA does not start at the weights");
        }
        net.forward(ones(3, 4)).sum().backward();
        // The gradient went into the flat buffer: the bias's gradient is the batch size for a sum of outputs.
        Assert.Equal(3f, flat.Gradients[^1].item<float>());
        Assert.Equal(3f, net.bias!.grad!.view(-1)[0].item<float>());
        using var half = nn.Linear(2, 2).to(ScalarType.Float16);
        var e = Assert.Throws<ArgumentException>(() => new FlatParameters(half.named_parameters().Select(p => (p.name, p.parameter)).ToList()));
        Assert.Contains("float32", e.Message);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void PreparingAheadOnAThreadTrainsExactlyAsPreparingOnDemand(int reuse)
    {
        Dictionary<string, Tensor> After(int prefetch)
        {
            using var folder = new TinyModel.TempFolder();
            using var data = new FixedImages();
            using var trainer = Create(Options(5) with { CheckpointEvery = 1000, Prefetch = prefetch, DataReuse = reuse, DataPool = 2 }, data, folder.Path);
            trainer.Run();
            return Snapshot(trainer);
        }
        AssertSame(After(0), After(2), "between data prepared on demand and on a background thread");
    }

    [Fact]
    public void ARunWithAPoolOfReusedScenesResumesExactly()
    {
        var options = Options(7) with { DataReuse = 2, DataPool = 2 };
        using var data = new FixedImages();
        using var straightFolder = new TinyModel.TempFolder();
        Dictionary<string, Tensor> straight;
        using (var t = Create(options, data, straightFolder.Path))
        {
            t.Run();
            straight = Snapshot(t);
        }
        using var folder = new TinyModel.TempFolder();
        using (var first = Create(options, data, folder.Path))
        {
            for (int i = 0; i < 6; i++) first.TrainStep();
            first.SaveCheckpoint();
            first.TrainStep(); // lost: the run "dies" before its next checkpoint
        }
        using var resumed = Create(options, data, folder.Path, Checkpoint.FindLatest(Path.Combine(folder.Path, "checkpoints")));
        Assert.Equal(6, resumed.Step);
        resumed.Run();
        AssertSame(straight, Snapshot(resumed), "after resuming a pooled run");
    }

    [Fact]
    public void TheLossIsReadEveryFewStepsAndAtEveryCheckpoint()
    {
        using var folder = new TinyModel.TempFolder();
        using var data = new FixedImages();
        using var trainer = Create(Options(8) with { ReportEvery = 3, CheckpointEvery = 4 }, data, folder.Path);
        var reported = new List<TrainingProgress>();
        trainer.Run(reported.Add);
        Assert.Equal([3L, 4, 6, 8], reported.Select(p => p.Step));
        Assert.All(reported, p => Assert.True(double.IsFinite(p.Loss) && p.Loss > 0 && p.ImagesPerSecond > 0, $"step {p.Step}: loss {p.Loss}, {p.ImagesPerSecond} img/s"));
    }

    [Fact]
    public void PoolSettingsAUserGetsWrongAreRefusedClearly()
    {
        using var data = new FixedImages();
        using var folder = new TinyModel.TempFolder();
        var e = Assert.Throws<UserException>(() => Create(Options(2) with { DataReuse = 5 }, data, folder.Path));
        Assert.Contains("--data-reuse 5", e.Message);
        e = Assert.Throws<UserException>(() => Create(Options(2) with { DataReuse = 0 }, data, folder.Path));
        Assert.Contains("--data-reuse", e.Message);
        e = Assert.Throws<UserException>(() => Create(Options(2) with { DataReuse = 2, DataPool = 0 }, data, folder.Path));
        Assert.Contains("--data-pool", e.Message);
        e = Assert.Throws<UserException>(() => Create(Options(2) with { Prefetch = -1 }, data, folder.Path));
        Assert.Contains("--prefetch", e.Message);
        Assert.Empty(Directory.GetFileSystemEntries(folder.Path));
    }

    // A stream whose chunk k is rows filled with the value k, so a batch shows which chunks it came from.
    private static PreparedBatch Chunk(long k, int size) =>
        new(full([size, 1, 2, 2], (double)k), null, new ConditioningInputs(), Enumerable.Range(0, size).Select(i => $"chunk {k} row {i}").ToList());

    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    public void ThePoolHoldsTheChunksOfTheStepsAheadAndTakesOneInAStep(int prefetch)
    {
        // Batch 8, reuse 4: chunks of 2 scenes, a pool of 2 batches = 8 chunks. Before step s it holds chunks s .. s+7.
        var taken = new List<long>();
        using var pool = new ScenePool((k, size) => { lock (taken) taken.Add(k); return Chunk(k, size); }, 8, 4, 2, 5, prefetch);
        Assert.Equal(2, pool.ChunkSize);
        Assert.Equal(16, pool.Rows);
        using var g = new Generator(1);
        var seen = new HashSet<long>();
        for (long step = 5; step < 25; step++)
        {
            using var scope = NewDisposeScope();
            var batch = pool.Next(g);
            Assert.Equal(8, batch.Images.shape[0]);
            var values = batch.Images.amax([1, 2, 3]).data<float>().Select(v => (long)v).ToList();
            Assert.All(values, v => Assert.InRange(v, step, step + 7));
            Assert.All(batch.Captions.Zip(values), cv => Assert.StartsWith($"chunk {cv.Second} ", cv.First));
            seen.UnionWith(values);
        }
        lock (taken) Assert.Equal(Enumerable.Range(5, taken.Count).Select(i => (long)i), taken); // in order, from the resumed step's chunk
        Assert.True(seen.Count > 12, $"only chunks {string.Join(",", seen)} were drawn from");
    }

    [Fact]
    public void WithoutReuseEveryStepTrainsOnTheNextWholeChunk()
    {
        using var pool = new ScenePool(Chunk, 4, 1, 16, 0, 2);
        using var g = new Generator(1);
        for (long step = 0; step < 5; step++)
        {
            var batch = pool.Next(g);
            Assert.Equal(Enumerable.Repeat((float)step, 16), batch.Images.flatten().data<float>().ToArray());
        }
    }

    [Fact]
    public void AFailingSourceStopsTheRunWithItsMessage()
    {
        using var pool = new ScenePool((k, size) => k < 2 ? Chunk(k, size) : throw new UserException("The image folder went away."), 4, 1, 1, 0, 2);
        using var g = new Generator(1);
        pool.Next(g);
        pool.Next(g);
        var e = Assert.Throws<UserException>(() => pool.Next(g));
        Assert.Equal("The image folder went away.", e.Message);
    }
}
