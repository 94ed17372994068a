using EDiffI.Data;
using EDiffI.Encoders;
using EDiffI.Host.Pipeline;
using EDiffI.Plugins.UNet;
using static TorchSharp.torch;

namespace EDiffI.Tests;

/// <summary>A handful of fixed 16×16 images with captions: stripes, a square, a gradient, a checkerboard.</summary>
internal sealed class FixedImages : IDatasetSource, IDisposable
{
    private readonly Tensor _images;
    private readonly string[] _captions = ["red stripes", "a blue square", "a green gradient", "a yellow checkerboard"];

    public FixedImages(int resolution = 16)
    {
        Resolution = resolution;
        var r = arange(resolution, dtype: ScalarType.Float32);
        var yy = r.view(-1, 1).expand(resolution, resolution);
        var xx = r.view(1, -1).expand(resolution, resolution);
        var stripes = stack([(xx.remainder(4) < 2).to(ScalarType.Float32), zeros_like(xx), zeros_like(xx)]);
        var square = stack([zeros_like(xx), zeros_like(xx), ((xx - resolution / 2).abs() < 4).logical_and((yy - resolution / 2).abs() < 4).to(ScalarType.Float32)]);
        var gradient = stack([zeros_like(xx), xx / (resolution - 1), zeros_like(xx)]);
        var checker = ((xx.div(4, rounding_mode: RoundingMode.floor) + yy.div(4, rounding_mode: RoundingMode.floor)).remainder(2)).to(ScalarType.Float32);
        var yellow = stack([checker, checker, zeros_like(checker)]);
        _images = (stack([stripes, square, gradient, yellow]) * 2 - 1).DetachFromDisposeScope();
    }

    public int Resolution { get; }
    public long? Count => 4;

    public TrainingBatch NextBatch(int batchSize, Generator generator)
    {
        var index = randint(0, 4, [batchSize], generator: generator);
        var captions = index.data<long>().Select(i => _captions[i]).ToList();
        var images = _images.index_select(0, index);
        index.Dispose();
        return new TrainingBatch(images, captions);
    }

    public void Dispose() => _images.Dispose();
}

internal static class TinyModel
{
    public static ModelManifest Manifest => new()
    {
        T5 = new TextEncoderSpec { Dimension = 32, MaxTokens = 8, Seed = 1 },
        ClipText = new TextEncoderSpec { Dimension = 32, MaxTokens = 8, Seed = 2 },
        DefaultSteps = 8,
    };

    public static UNetConfig Config => UNetConfig.Tiny(16) with { ClipImageDimension = 0 };

    public static EDiffI.Host.Pipeline.ModelCatalog Catalog => new([new UNetFamily()], [new EDiffI.Plugins.TextHash.WordHashEncoderFactory()],
        routers: [new EDiffI.Plugins.Experts.SigmaIntervalRouterFactory()], placements: new EDiffI.Plugins.Experts.ExpertPlacementFactory());

    /// <summary>
    /// A tiny U-Net saved to <paramref name="folder"/> with the word-hash encoders, perturbed from its zero
    /// initialisation so outputs depend on the prompt, and loaded as a float32 CPU pipeline.
    /// </summary>
    /// <summary>The generation service over <paramref name="pipeline"/> (not owned) with Heun, Karras, style and paint-with-words, plus <paramref name="extra"/> conditioners.</summary>
    public static GenerationService Service(TextToImagePipeline pipeline, params EDiffI.Conditioning.IConditioner[] extra) =>
        new(pipeline, [new EDiffI.Plugins.Sampling.HeunSampler(), new EDiffI.Plugins.Sampling.EulerSampler()], [new EDiffI.Sampling.KarrasSchedule()],
            [new EDiffI.Host.Pipeline.Conditioners.StyleConditioner(), new EDiffI.Host.Pipeline.Conditioners.PaintConditioner([new EDiffI.Plugins.PaintWithWords.PaintWithWords()]), .. extra],
            ownsPipeline: false);

    public static TextToImagePipeline Pipeline(string folder, int clipImageDimension = 0)
    {
        manual_seed(21);
        using (var model = new EDiffIUNet(Config with { ClipImageDimension = clipImageDimension }))
        {
            using var noGrad = no_grad();
            foreach (var p in model.parameters()) p.add_(randn_like(p) * 0.05);
            UNetFiles.Save(model, folder);
        }
        Manifest.Save(folder);
        return TextToImagePipeline.Load(folder, Catalog, CPU, ScalarType.Float32);
    }

    /// <summary>The repository's root folder (where Framework.sln is).</summary>
    public static string RepositoryRoot
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "Framework.sln"))) return dir.FullName;
            throw new InvalidOperationException("the tests run outside the repository");
        }
    }

    public static EDiffI.Encoders.ITextEncoder T5() => new EDiffI.Plugins.TextHash.WordHashTextEncoder(new() { Dimension = 32, MaxTokens = 8, Seed = 1 });
    public static EDiffI.Encoders.ITextEncoder Clip() => new EDiffI.Plugins.TextHash.WordHashTextEncoder(new() { Dimension = 32, MaxTokens = 8, Seed = 2 });

    /// <summary>A temporary folder deleted on dispose.</summary>
    public sealed class TempFolder : IDisposable
    {
        public string Path { get; } = Directory.CreateTempSubdirectory("ediffi-test-").FullName;
        public void Dispose() { try { Directory.Delete(Path, recursive: true); } catch (IOException) { } }
    }
}

/// <summary>Draws straight through <see cref="TextToImagePipeline.Sample"/> with a request's settings (tests below the generation service).</summary>
internal static class PipelineTestExtensions
{
    public static Tensor Generate(this TextToImagePipeline pipeline, GenerationRequest request, EDiffI.Sampling.ISampler sampler,
        EDiffI.Sampling.ISigmaSchedule schedule, EDiffI.Sampling.SamplerCallback? callback = null, EDiffI.Conditioning.ConditioningInputs? extra = null) =>
        pipeline.Sample(request.PromptOfEach(), request.Seed ?? 0, request.Steps ?? pipeline.Manifest.DefaultSteps,
            request.Guidance ?? pipeline.Manifest.DefaultGuidance, sampler, schedule, extra, callback);

    public static Tensor EncodeStyle(this TextToImagePipeline pipeline, Tensor image, double strength) =>
        EDiffI.Host.Pipeline.Conditioners.StyleConditioner.Embed(pipeline.ImageEncoder!, image, strength, pipeline.Device);
}
