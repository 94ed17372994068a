using EDiffI.Host.Pipeline;
using EDiffI.Plugins.Experts;
using static TorchSharp.torch;

namespace EDiffI.Tests;

/// <summary>The shipped default model (models/default): what the README's main command uses.</summary>
public class ShippedModelTests
{
    private static ModelCatalog Catalog => new(
        [new EDiffI.Plugins.UNet.UNetFamily()],
        [new EDiffI.Plugins.T5.T5EncoderFactory(), new EDiffI.Plugins.Clip.ClipTextEncoderFactory()],
        [new EDiffI.Plugins.Clip.ClipImageEncoderFactory()],
        [new SigmaIntervalRouterFactory()], new ExpertPlacementFactory());

    private static string Folder => Path.Combine(TinyModel.RepositoryRoot, "models", "default");

    [Fact]
    public void IsAThreeExpertEnsembleWithinTheSizeBudget()
    {
        var manifest = ModelManifest.Load(Folder);
        Assert.Equal(3, manifest.Ensemble!.Experts.Count);
        Assert.Null(EDiffI.Experts.ExpertEnsembleSpec.PartitionProblem(manifest.Ensemble.Experts.Select(e => (IReadOnlyList<EDiffI.Experts.QuantileRange>)e.Quantiles).ToList()));
        long bytes = Directory.GetFiles(Folder, "*.safetensors", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length);
        Assert.True(bytes <= 24L * 1000 * 1000, $"{bytes} bytes of weights");
        Assert.All(Directory.GetFiles(Folder, "*", SearchOption.AllDirectories), f => Assert.True(new FileInfo(f).Length <= 16L << 20, f));
    }

    [Fact]
    public void DrawsTheColourThePromptAsksFor()
    {
        using var pipeline = TextToImagePipeline.Load(Folder, Catalog, CPU, ScalarType.Float32);
        var sampler = new EDiffI.Plugins.Sampling.HeunSampler();
        var schedule = new EDiffI.Sampling.KarrasSchedule();
        using var red = pipeline.Generate(new GenerationRequest("red bricks with white mortar", 1, 12, 2.0, Batch: 2), sampler, schedule);
        using var blue = pipeline.Generate(new GenerationRequest("blue bricks with white mortar", 1, 12, 2.0, Batch: 2), sampler, schedule);
        using var again = pipeline.Generate(new GenerationRequest("red bricks with white mortar", 1, 12, 2.0, Batch: 2), sampler, schedule);
        Assert.True(red.equal(again).all().item<bool>());
        // Mean colour per channel: red wins in the red images, blue in the blue ones.
        using var r = red.mean([0, 2, 3]);
        using var b = blue.mean([0, 2, 3]);
        Assert.True(r[0].item<float>() > r[2].item<float>() + 0.2, $"red prompt: {r[0].item<float>()} {r[1].item<float>()} {r[2].item<float>()}");
        Assert.True(b[2].item<float>() > b[0].item<float>() + 0.2, $"blue prompt: {b[0].item<float>()} {b[1].item<float>()} {b[2].item<float>()}");
    }
}
