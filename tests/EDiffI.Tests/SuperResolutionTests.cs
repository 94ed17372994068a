using EDiffI.Conditioning;
using EDiffI.Conformance;
using EDiffI.Denoising;
using EDiffI.Host.Pipeline;
using EDiffI.Host.Runtime;
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
    public static ISuperResolutionStage Create(int seed = 40)
    {
        manual_seed(seed);
        var stage = Family.Create("sr32", "sr-tiny", 8, 32, new ConditioningWidths(32, 32, 32, 0));
        using var noGrad = no_grad();
        foreach (var p in stage.Network.Module.parameters()) p.add_(randn_like(p) * 0.05);
        return stage;
    }

    public static Tensor Low(int batch, int side = 8)
    {
        using var g = new Generator(5);
        return rand([batch, 3, side, side], generator: g) * 2 - 1;
    }
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
        Assert.Equal(new long[] { 4, 3, 32, 32 }, a.Spatial!.shape);
        Assert.True(a.Spatial.equal(b.Spatial!).all().item<bool>());
        // No degradation and no augmentation: the real render, bicubic-upsampled, exactly.
        using var g3 = new Generator(11);
        using var clean = TinyStage.Family.TrainingStream(stage, high, real, g3, DegradationOptions.None);
        using var up = F.interpolate(real, [32, 32], mode: InterpolationMode.Bicubic, align_corners: false);
        Assert.True(clean.Spatial!.allclose(up, 1e-6, 1e-6));
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
    public void TheShippedSr256RestoresDetailBicubicUpsamplingLosesOnRealRenders()
    {
        string folder = Path.Combine(TinyModel.RepositoryRoot, "models", "default");
        var catalog = new ModelCatalog([new UNetFamily()],
            [new EDiffI.Plugins.T5.T5EncoderFactory(), new EDiffI.Plugins.Clip.ClipTextEncoderFactory()],
            [new EDiffI.Plugins.Clip.ClipImageEncoderFactory()], [new EDiffI.Plugins.Experts.SigmaIntervalRouterFactory()], new EDiffI.Plugins.Experts.ExpertPlacementFactory());
        using var pipeline = TextToImagePipeline.Load(folder, catalog, CPU, ScalarType.Float32);
        using var cascade = Cascade.Load(pipeline.Manifest, folder, 64, [new SuperResolutionFamily([new UNetFamily()])], CPU, ScalarType.Float32);
        var (spec, stage) = cascade.Stages[0];
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var scenes = Enumerable.Range(0, 3).Select(i => (Low: SceneRenderer.Render(1000 + i, WorldSplit.HeldOut, 64), High: SceneRenderer.Render(1000 + i, WorldSplit.HeldOut, 256))).ToList();
        var low = SceneRenderer.ToImages(scenes.Select(s => s.Low.Rgb));
        var high = SceneRenderer.ToImages(scenes.Select(s => s.High.Rgb));
        var captions = scenes.Select(s => s.Low.Short.Text).ToList();
        using var g = new Generator(7);
        var eps = randn([3, 3, 256, 256], generator: g);
        var denoiser = stage.ConditionOn(low, spec.AugmentationSigma, eps);
        var noise = randn([3, 3, 256, 256], dtype: ScalarType.Float64, generator: g);
        var sampler = new EDiffI.Plugins.Sampling.HeunSampler();
        var sigmas = new EDiffI.Sampling.KarrasSchedule().Sigmas(spec.DefaultSteps, spec.SigmaMax ?? 80);
        var bicubic = F.interpolate(low, [256, 256], mode: InterpolationMode.Bicubic, align_corners: false);
        var start = spec.StartFromInput ? noise + bicubic.to(ScalarType.Float64) / sigmas[0] : noise; // as the service starts
        var sr = sampler.Sample(denoiser, new EDiffI.Sampling.SamplingRequest(start, sigmas, pipeline.Encode(captions))).clamp(-1, 1).to(ScalarType.Float32);
        bicubic = bicubic.clamp(-1, 1);
        static double Psnr(Tensor a, Tensor b) => 10 * Math.Log10(4 / (a - b).pow(2).mean().item<float>()); // range [−1, 1]
        // Sharpness: energy of the image minus its 3×3 box blur, over the real render's.
        static double Detail(Tensor x) => (x - F.avg_pool2d(F.pad(x, [1, 1, 1, 1], TorchSharp.PaddingModes.Replicate), 3, 1)).pow(2).mean().item<float>();
        double ours = Psnr(sr, high), baseline = Psnr(bicubic, high);
        double sharp = Detail(sr) / Detail(high), blurred = Detail(bicubic) / Detail(high);
        string report = $"sr256 PSNR {ours:0.00} dB sharpness {sharp:0.00}; bicubic PSNR {baseline:0.00} dB sharpness {blurred:0.00}";
        File.WriteAllText(Path.Combine(Path.GetTempPath(), "ediffi-sr256-vs-bicubic.txt"), report);
        // The stage restores the detail bicubic upsampling loses (sharpness closer to the real render's) ...
        Assert.True(Math.Abs(Math.Log(sharp)) < Math.Abs(Math.Log(blurred)), report);
        // ... and stays close to it: within 2 dB of bicubic's PSNR (it does not beat it yet; README, results).
        Assert.True(ours > baseline - 2, report);
    }
}
