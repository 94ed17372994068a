using EDiffI.Conditioning;
using EDiffI.Conformance;
using EDiffI.Denoising;
using EDiffI.Host.Pipeline;
using EDiffI.Host.Runtime;
using EDiffI.Host.Training;
using EDiffI.Networks;
using EDiffI.Plugins.SuperResolution;
using EDiffI.Plugins.UNet;
using EDiffI.Plugins.World;
using EDiffI.SuperResolution;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace EDiffI.Tests;

internal static class TinyStage
{
    public static SuperResolutionFamily Family => new([new UNetFamily()]);

    /// <summary>An 8 → 32 stage of the sr-tiny shape with the tiny model's text widths, perturbed so outputs depend on the inputs.</summary>
    public static ISuperResolutionStage Create(int seed = 40, bool residual = false, double sigmaData = 0.2)
    {
        manual_seed(seed);
        var stage = Family.Create("sr32", "sr-tiny", 8, 32, new ConditioningWidths(32, 32, 32, 0),
            residual ? new StageTarget(true, sigmaData) : null);
        using var noGrad = no_grad();
        foreach (var p in stage.Network.Module.parameters()) p.add_(randn_like(p) * 0.05);
        return stage;
    }

    public static Tensor Low(int batch, int side = 8)
    {
        using var g = new Generator(5);
        return rand([batch, 3, side, side], generator: g) * 2 - 1;
    }

    /// <summary>Two images for the 32² stage: the low-resolution input, its augmentation noise and a noisy x (float64).</summary>
    public static (Tensor Low, Tensor Augmentation, Tensor X) Inputs() =>
        (Low(2), randn([2, 3, 32, 32], generator: new Generator(8)), randn([2, 3, 32, 32], dtype: ScalarType.Float64, generator: new Generator(9)));
}

/// <summary>The super-resolution stage's denoiser passes the same conformance as the base's.</summary>
public class SuperResolutionDenoiserConformance : DenoiserConformance
{
    protected override IDenoiser CreateDenoiser()
    {
        var stage = TinyStage.Create();
        using var g = new Generator(9);
        // One low-resolution image serves any batch (the stream broadcasts), so batch members stay independent.
        return stage.ConditionOn(TinyStage.Low(1), 0.1, randn([1, 3, 32, 32], generator: g));
    }

    protected override long[] SampleShape => [3, 32, 32];

    protected override ConditioningInputs ConditioningForTwo()
    {
        using var t5 = TinyModel.T5();
        using var clip = TinyModel.Clip();
        string[] prompts = ["red stripes", "a blue square on green"];
        return new ConditioningInputs(t5.Encode(prompts, CPU), clip.Encode(prompts, CPU));
    }
}

/// <summary>A residual stage's denoiser (the upsampling plus the denoised detail) passes it too.</summary>
public class ResidualSuperResolutionDenoiserConformance : SuperResolutionDenoiserConformance
{
    protected override IDenoiser CreateDenoiser()
    {
        var stage = TinyStage.Create(residual: true);
        using var g = new Generator(9);
        return stage.ConditionOn(TinyStage.Low(1), 0.1, randn([1, 3, 32, 32], generator: g));
    }
}

public class SuperResolutionTests
{
    [Fact]
    public void TheLowResolutionInputIsNoisedByTheDocumentedFormula()
    {
        using var stage = TinyStage.Create();
        using var low = TinyStage.Low(3);
        using var sigma = tensor(new float[] { 0, 0.1f, 0.5f });
        using var g = new Generator(3);
        using var eps = randn([3, 3, 32, 32], generator: g);
        using var stream = stage.LowResolutionStream(low, sigma, eps);
        // spatial = bicubic(low → 32) + σ_aug·ε; pooled_k = cos(π k u), u = σ/(σ + 0.25).
        using var expected = F.interpolate(low, [32, 32], mode: InterpolationMode.Bicubic, align_corners: false) + sigma.view(-1, 1, 1, 1) * eps;
        Assert.True(stream.Spatial!.allclose(expected, 1e-6, 1e-6));
        var pooled = stream.Pooled!.data<float>().ToArray();
        for (int b = 0; b < 3; b++)
        {
            double s = new[] { 0, 0.1, 0.5 }[b], u = s / (s + SuperResolutionStage.AugmentationScale);
            for (int k = 0; k < SuperResolutionStage.AugmentationWidth; k++)
                Assert.True(Math.Abs(Math.Cos(Math.PI * k * u) - pooled[b * SuperResolutionStage.AugmentationWidth + k]) < 1e-5, $"σ {s}, k {k}");
        }
    }

    [Fact]
    public void AStageTakesTheLowResolutionImageAndGivesTheHighResolutionShape()
    {
        using var stage = TinyStage.Create();
        Assert.Equal(8, stage.InputResolution);
        Assert.Equal(32, stage.OutputResolution);
        using var noGrad = no_grad();
        using var low = TinyStage.Low(2);
        using var eps = zeros(2, 3, 32, 32);
        var denoiser = stage.ConditionOn(low, 0, eps);
        using var x = randn(2, 3, 32, 32, dtype: ScalarType.Float64);
        using var y = denoiser.Denoise(x, 1.0, new ConditioningInputs());
        Assert.Equal(new long[] { 2, 3, 32, 32 }, y.shape);
        // The low-resolution image reaches the output: another image gives another estimate.
        using var other = stage.ConditionOn(low.flip(3), 0, eps).Denoise(x, 1.0, new ConditioningInputs());
        Assert.False(y.allclose(other));
        // Convolutional: the same network runs on a crop of another size.
        using var crop = stage.ConditionOn(TinyStage.Low(1, 4), 0, zeros(1, 3, 16, 16)).Denoise(randn(1, 3, 16, 16, dtype: ScalarType.Float64), 1.0, new ConditioningInputs());
        Assert.Equal(new long[] { 1, 3, 16, 16 }, crop.shape);
    }

    [Fact]
    public void TrainingDegradesOnlyFromTheGeneratorAndKeepsShapes()
    {
        using var stage = TinyStage.Create();
        using var high = TinyStage.Low(4, 32);
        using var real = TinyStage.Low(4, 8);
        var options = new DegradationOptions { BlurProbability = 1, QuantisationProbability = 1 };
        using var g1 = new Generator(11);
        using var g2 = new Generator(11);
        using var a = TinyStage.Family.TrainingStream(stage, high, real, g1, options);
        using var b = TinyStage.Family.TrainingStream(stage, high, real, g2, options);
        Assert.Equal(new long[] { 4, 3, 32, 32 }, a.Stream.Spatial!.shape);
        Assert.True(a.Stream.Spatial.equal(b.Stream.Spatial!).all().item<bool>());
        Assert.True(a.Target.equal(high).all().item<bool>()); // a full stage learns the images themselves
        // No degradation and no augmentation: the real render, bicubic-upsampled, exactly.
        using var g3 = new Generator(11);
        using var clean = TinyStage.Family.TrainingStream(stage, high, real, g3, DegradationOptions.None);
        using var up = F.interpolate(real, [32, 32], mode: InterpolationMode.Bicubic, align_corners: false);
        Assert.True(clean.Stream.Spatial!.allclose(up, 1e-6, 1e-6));
    }

    [Fact]
    public void AResidualStageLearnsTheDetailOverTheUpsampledCleanInput()
    {
        using var stage = TinyStage.Create(residual: true);
        using var high = TinyStage.Low(4, 32);
        using var real = TinyStage.Low(4, 8);
        using var g = new Generator(11);
        var augmented = DegradationOptions.None with { AugmentationMax = 0.5, AugmentationZero = 0 };
        using var input = TinyStage.Family.TrainingStream(stage, high, real, g, augmented);
        using var up = F.interpolate(real, [32, 32], mode: InterpolationMode.Bicubic, align_corners: false);
        // The target is the image minus the upsampling of the input before its noise augmentation ...
        Assert.True(input.Target.allclose(high - up, 1e-6, 1e-6));
        // ... while the network's stream still carries the augmented input.
        Assert.False(input.Stream.Spatial!.allclose(up, 1e-3, 1e-3));
    }

    [Fact]
    public void AResidualStageWhoseNetworkOutputsZeroIsBicubicUpsampling()
    {
        foreach (bool residual in new[] { true, false })
        {
            using var stage = TinyStage.Create(residual: residual);
            using (no_grad())
                foreach (var p in stage.Network.Module.parameters()) p.zero_();
            using var low = TinyStage.Low(2);
            using var eps = randn([2, 3, 32, 32], generator: new Generator(3));
            using var up = F.interpolate(low, [32, 32], mode: InterpolationMode.Bicubic, align_corners: false).to(ScalarType.Float64);
            var denoiser = stage.ConditionOn(low, 0.1, eps);
            using var denoised = denoiser.Denoise(up, 0.3, new ConditioningInputs());
            // D(up; σ) = up + c_skip·0 + c_out·0 for the detail; a full stage returns c_skip·up, not the upsampling.
            Assert.Equal(residual, denoised.allclose(up, 1e-6, 1e-6));
        }
    }

    [Fact]
    public void AResidualStageKeepsItsTargetThroughItsFolder()
    {
        string folder = Path.Combine(Path.GetTempPath(), $"ediffi-residual-{Guid.NewGuid():N}");
        try
        {
            using var stage = TinyStage.Create(residual: true, sigmaData: 0.12);
            TinyStage.Family.Save(stage, folder);
            Assert.Contains("\"residual\": true", File.ReadAllText(Path.Combine(folder, StageFile.FileName)));
            using var loaded = TinyStage.Family.Load(new CascadeStageSpec { Name = "sr32", Kind = "ediffi-sr", Folder = "sr32", Resolution = 32 }, folder);
            Assert.Equal(new StageTarget(true, 0.12), loaded.Target);
            Assert.Throws<ArgumentException>(() => TinyStage.Family.Create("sr32", "sr-tiny", 8, 32, new ConditioningWidths(32, 32, 32, 0), new StageTarget(true, 0)));
        }
        finally
        {
            if (Directory.Exists(folder)) Directory.Delete(folder, true);
        }
    }

    [Fact]
    public void ADegradationFileSetsTheFieldsItNamesAndRefusesOutOfRangeValues()
    {
        using var folder = new TinyModel.TempFolder();
        string path = Path.Combine(folder.Path, "light.json");
        File.WriteAllText(path, """{ "realRender": 0.9, "blurProbability": 0.2, "augmentationMax": 0.25 }""");
        var light = DegradationOptions.Load(path);
        Assert.Equal(new DegradationOptions { RealRender = 0.9, BlurProbability = 0.2, AugmentationMax = 0.25 }, light);
        Assert.Null(light.Problem());

        File.WriteAllText(path, """{ "realRender": 1.5 }""");
        Assert.Contains("realRender is a probability", Assert.Throws<InvalidDataException>(() => DegradationOptions.Load(path)).Message);
        File.WriteAllText(path, """{ "blurSigmaMin": 1, "blurSigmaMax": 0.5 }""");
        Assert.Contains("blurSigmaMin ≤ blurSigmaMax", Assert.Throws<InvalidDataException>(() => DegradationOptions.Load(path)).Message);
        File.WriteAllText(path, """{ "blurProb": 0.2 }""");
        Assert.Contains("is not a valid degradation file", Assert.Throws<InvalidDataException>(() => DegradationOptions.Load(path)).Message);
        Assert.Contains("No degradation file", Assert.Throws<FileNotFoundException>(() => DegradationOptions.Load(Path.Combine(folder.Path, "missing.json"))).Message);
    }

    [Fact]
    public void JpegLikeQuantisationIsCloseAtHighQualityAndCoarseAtLow()
    {
        using var images = TinyStage.Low(2, 16);
        using var q = tensor(new long[] { 95, 10 });
        using var out_ = JpegLike.Quantise(images, q);
        double fine = (out_[0] - images[0]).abs().mean().item<float>(), coarse = (out_[1] - images[1]).abs().mean().item<float>();
        Assert.True(fine < coarse, $"quality 95 error {fine}, quality 10 error {coarse}");
        Assert.True(fine < 0.1, $"quality 95 error {fine}");
    }

    [Fact]
    public void ACascadeWhoseStageFolderIsMissingIsRefusedNamingTheStage()
    {
        var manifest = new ModelManifest { Cascade = [new CascadeStageSpec { Name = "sr256", Folder = "sr256-missing", Resolution = 256 }] };
        using var folder = new TinyModel.TempFolder();
        var e = Assert.Throws<UserException>(() => Cascade.Load(manifest, folder.Path, 64, [TinyStage.Family], CPU, ScalarType.Float32));
        Assert.Contains("'sr256'", e.Message);
        Assert.Contains("missing", e.Message);
    }

    [Fact]
    public void AResumedStageFineTuneCountsItsStepsOnceWhenTheModelAlreadyHoldsItsExportAndKeepsTheEarlierRuns()
    {
        using var folder = new TinyModel.TempFolder();
        string model = Path.Combine(folder.Path, "model"), run = Path.Combine(folder.Path, "run");
        TinyModel.Pipeline(model).Dispose();
        using (var stage = TinyStage.Family.Create("sr32", "sr-tiny", 8, 32, new ConditioningWidths(32, 32, 32, 0)))
            TinyStage.Family.Save(stage, Path.Combine(model, "sr32"));
        (ModelManifest.Load(model) with
        {
            Cascade = [new CascadeStageSpec { Name = "sr32", Folder = "sr32", Resolution = 32, DefaultSteps = 1, SigmaMax = 1 }],
        }).Save(model);
        System.Text.Json.JsonElement Train(int steps, string run)
        {
            var stageRun = new StageRun("sr32", model, "sr-tiny", 8, 16, DegradationOptions.None, StartFrom: model);
            var options = new EDiffI.Host.Training.TrainingOptions { BatchSize = 2, Steps = steps, CheckpointEvery = 1000 };
            string? resume = EDiffI.Host.Training.Checkpoint.FindLatest(Path.Combine(run, "checkpoints"));
            using var trainer = SuperResolutionTrainer.Create(stageRun, options, "world:train", run, resume, TinyModel.Catalog, [TinyStage.Family],
                [new WorldSourceFactory()], CPU, ScalarType.Float32, out var source, out _);
            using var disposeSource = source as IDisposable;
            trainer.Run();
            var stageJson = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(trainer.ModelFolder, "stage.json"))).RootElement.Clone();
            // Shipping the export: the model's stage is now the run's own result.
            Directory.Delete(Path.Combine(model, "sr32"), true);
            ModelLoader.CopyFolder(trainer.ModelFolder, Path.Combine(model, "sr32"));
            return stageJson;
        }
        Assert.Equal(2, Train(2, run).GetProperty("trainedSteps").GetInt64());
        // Resumed from step 2 with --finetune naming the model that now holds the first export (2 steps): 5 in all, not 7.
        var resumed = Train(5, run);
        Assert.Equal(5, resumed.GetProperty("trainedSteps").GetInt64());
        Assert.False(resumed.TryGetProperty("history", out var none) && none.ValueKind != System.Text.Json.JsonValueKind.Null, "one run so far");
        // A new run from the model that now holds those 5 steps keeps them as an earlier run, with its crop and degradation.
        var next = Train(1, Path.Combine(folder.Path, "run2"));
        Assert.Equal(6, next.GetProperty("trainedSteps").GetInt64());
        var earlier = Assert.Single(next.GetProperty("history").EnumerateArray());
        Assert.Equal(5, earlier.GetProperty("steps").GetInt64());
        Assert.Equal(16, earlier.GetProperty("crop").GetInt32());
        Assert.Equal(0, earlier.GetProperty("degradation").GetProperty("blurProbability").GetDouble());
    }

    [Fact]
    public void TheServiceRunsTheCascadeAsFarAsTheSizeAsksAndNamesEachStage()
    {
        using var folder = new TinyModel.TempFolder();
        using var pipeline = TinyModel.Pipeline(folder.Path);
        string stageFolder = Path.Combine(folder.Path, "sr64");
        using (var stage = TinyStage.Family.Create("sr64", "sr-tiny", 16, 64, new ConditioningWidths(32, 32, 32, 0)))
            TinyStage.Family.Save(stage, stageFolder);
        var manifest = ModelManifest.Load(folder.Path) with
        {
            Cascade = [new CascadeStageSpec { Name = "sr64", Folder = "sr64", Resolution = 64, DefaultSteps = 3, SigmaMax = 4 }],
        };
        using var cascade = Cascade.Load(manifest, folder.Path, 16, [TinyStage.Family], CPU, ScalarType.Float32);
        using var service = new GenerationService(pipeline, [new EDiffI.Plugins.Sampling.HeunSampler()], [new EDiffI.Sampling.KarrasSchedule()],
            ownsPipeline: false, cascade: cascade);
        Assert.Equal(new[] { 16, 64 }, service.Sizes);
        var stages = new List<string>();
        using var result = service.Generate(new GenerationRequest("red stripes", 1, 2) { Width = 64, Height = 64 },
            (string stage, in EDiffI.Sampling.SamplerStep step) => stages.Add(stage));
        Assert.Equal(new long[] { 1, 3, 64, 64 }, result.Images.shape);
        Assert.Equal(["base", "sr64"], stages.Distinct());
        Assert.Equal(3, stages.Count(s => s == "sr64"));
        Assert.Equal("sr64", Assert.Single(result.Settings.Stages).Name);
        // Where the time went: the base's and each stage's wall clock are measured.
        Assert.True(result.Settings.BaseSeconds > 0 && result.Settings.Stages[0].Seconds > 0);
        // The base's size runs the base only; a size no stage draws is refused with the sizes there are.
        using var small = service.Generate(new GenerationRequest("red stripes", 1, 2) { Width = 16, Height = 16 });
        Assert.Equal(16, small.Images.shape[3]);
        var problem = service.Check(new GenerationRequest("red stripes") { Width = 128, Height = 128 });
        Assert.Equal(ProblemKind.Unsupported, problem!.Kind);
        Assert.Contains("16 or 64", problem.Message);
        Assert.Contains("Unknown stage 'sr9'", service.Check(new GenerationRequest("x") { Stages = new Dictionary<string, StageSettings> { ["sr9"] = new(Steps: 2) } })!.Message);
        // The same seed draws the same texture; per-image noise makes image 0 of a batch of 2 the single image.
        using var again = service.Generate(new GenerationRequest("red stripes", 1, 2) { Width = 64, Height = 64 });
        Assert.True(again.Images.equal(result.Images).all().item<bool>());
        using var two = service.Generate(new GenerationRequest("red stripes", 1, 2, Batch: 2) { Width = 64, Height = 64 });
        Assert.True(two.Images[0].allclose(result.Images[0], 1e-5, 1e-5));
    }

    [Fact]
    public void TheShippedSr256BeatsBicubicOnRealRendersAndIsSharper()
    {
        // Through the generation service as a user's 64² file would go: init = the render, strength 0, size 256.
        string folder = Path.Combine(TinyModel.RepositoryRoot, "models", "default");
        var catalog = new ModelCatalog([new UNetFamily()],
            [new EDiffI.Plugins.T5.T5EncoderFactory(), new EDiffI.Plugins.Clip.ClipTextEncoderFactory()],
            [new EDiffI.Plugins.Clip.ClipImageEncoderFactory()], [new EDiffI.Plugins.Experts.SigmaIntervalRouterFactory()], new EDiffI.Plugins.Experts.ExpertPlacementFactory());
        using var service = new GenerationServiceFactory(catalog, [new EDiffI.Plugins.Sampling.HeunSampler()], [new EDiffI.Sampling.KarrasSchedule()], [],
            new Microsoft.Extensions.Configuration.ConfigurationBuilder().Build(), [new SuperResolutionFamily([new UNetFamily()])]).Open(folder, CPU, ScalarType.Float32);
        using var scope = NewDisposeScope();
        var ours = new List<double>();
        var baseline = new List<double>();
        var sharp = new List<double>();
        var blurred = new List<double>();
        for (int i = 0; i < 3; i++)
        {
            var low = SceneRenderer.Render(1000 + i, WorldSplit.HeldOut, 64);
            var high = SceneRenderer.ToImages([SceneRenderer.Render(1000 + i, WorldSplit.HeldOut, 256).Rgb]);
            var lowImage = SceneRenderer.ToImages([low.Rgb]);
            byte[] rgba = EDiffI.Host.Imaging.ImageFiles.ToRgba8(lowImage[0], out _, out _);
            using var result = service.Generate(new GenerationRequest(low.Short.Text, 7) { Width = 256, Height = 256, Init = new ConditionerImage(rgba, 64, 64), Strength = 0 });
            var sr = result.Images;
            var bicubic = F.interpolate(lowImage, [256, 256], mode: InterpolationMode.Bicubic, align_corners: false).clamp(-1, 1);
            ours.Add(EDiffI.Host.Imaging.ImageQuality.Psnr(sr, high));
            baseline.Add(EDiffI.Host.Imaging.ImageQuality.Psnr(bicubic, high));
            sharp.Add(EDiffI.Host.Imaging.ImageQuality.Sharpness(sr, high));
            blurred.Add(EDiffI.Host.Imaging.ImageQuality.Sharpness(bicubic, high));
        }
        string report = $"sr256 PSNR {ours.Average():0.00} dB sharpness {sharp.Average():0.00}; bicubic PSNR {baseline.Average():0.00} dB sharpness {blurred.Average():0.00}";
        File.WriteAllText(Path.Combine(Path.GetTempPath(), "ediffi-sr256-vs-bicubic.txt"), report);
        // The residual stage keeps more of the detail bicubic upsampling loses (sharpness closer to the real render's) ...
        Assert.True(Math.Abs(Math.Log(sharp.Average())) < Math.Abs(Math.Log(blurred.Average())), report);
        // ... and beats bicubic's PSNR. The margin is small (0.06 dB over 64 held-out scenes, docs/results.md), so this
        // holds the stage above bicubic, not to a margin it was never measured to have.
        Assert.True(ours.Average() > baseline.Average(), report);
    }
}
