using EDiffI.Host.Pipeline;
using EDiffI.Plugins.Experts;
using EDiffI.Plugins.World;
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
        Assert.True(bytes <= 40L * 1000 * 1000, $"{bytes} bytes of weights (base, encoders and the cascade's stages: at most 40 MB)");
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

    [Fact]
    public void StyleReferenceSetsThePaletteThroughTheClipImageEncoder()
    {
        // The reference goes through the shipped CLIP vision tower (EncodeStyle), not a hand-made embedding.
        using var pipeline = TextToImagePipeline.Load(Folder, Catalog, CPU, ScalarType.Float32);
        Assert.NotNull(pipeline.ImageEncoder);
        var sampler = new EDiffI.Plugins.Sampling.HeunSampler();
        var schedule = new EDiffI.Sampling.KarrasSchedule();
        using var redBricks = Texture(new TextureSpec(TextureFamily.Bricks, Palette.IndexOf("red"), Palette.IndexOf("white"), TextureScale.Medium, TextureOrientation.Horizontal, false, false, 1));
        using var blueWaves = Texture(new TextureSpec(TextureFamily.Waves, Palette.IndexOf("blue"), Palette.IndexOf("yellow"), TextureScale.Medium, TextureOrientation.Horizontal, false, false, 2));
        // "bricks" names no colour, so the palette is the reference's to give.
        var request = new GenerationRequest("bricks", 3, 12, 2.0, Batch: 2);
        Tensor Styled(Tensor reference) => pipeline.Generate(request, sampler, schedule,
            extra: new EDiffI.Conditioning.ConditioningInputs(ClipImage: pipeline.EncodeStyle(reference, 2.0)));
        using var plain = pipeline.Generate(request, sampler, schedule);
        using var likeRed = Styled(redBricks);
        using var likeBlue = Styled(blueWaves);
        double Distance(Tensor images, Tensor reference)
        {
            using var d = ControlMetrics.PaletteDistance(images, reference.unsqueeze(0).expand(images.shape[0], -1, -1, -1));
            return d.mean().item<float>();
        }
        double redToRed = Distance(likeRed, redBricks), redToBlue = Distance(likeRed, blueWaves);
        double blueToBlue = Distance(likeBlue, blueWaves), blueToRed = Distance(likeBlue, redBricks);
        double plainToRed = Distance(plain, redBricks), plainToBlue = Distance(plain, blueWaves);
        string all = $"palette distances: red-styled to red {redToRed:0.000}, to blue {redToBlue:0.000}; blue-styled to blue {blueToBlue:0.000}, " +
            $"to red {blueToRed:0.000}; plain to red {plainToRed:0.000}, to blue {plainToBlue:0.000}";
        // Each styled image is closer to its own reference than to the other one, and closer to it than plain generation is.
        Assert.True(redToRed < redToBlue && blueToBlue < blueToRed, all);
        Assert.True(redToRed < plainToRed && blueToBlue < plainToBlue, all);
    }

    [Fact]
    public void PaintedPhraseLandsInItsRegion()
    {
        // A scene of the world whose caption names one object: painting the phrase into the object's mask
        // puts the object's colour there far more often than the plain prompt does.
        using var pipeline = TextToImagePipeline.Load(Folder, Catalog, CPU, ScalarType.Float32);
        var sampler = new EDiffI.Plugins.Sampling.HeunSampler();
        var schedule = new EDiffI.Sampling.KarrasSchedule();
        var scene = Enumerable.Range(0, 1000).Select(i => SceneRenderer.Render(1_000_000 + i, WorldSplit.Train, 64))
            .First(s => s.Scene.Objects.Count == 1 && s.Scene.Objects[0].Texture is null && s.Scene.Objects[0].Size > 0.12);
        var (phrase, region) = ControlMetrics.CaptionRegions(scene, scene.Short).Single();
        var painter = new EDiffI.Plugins.PaintWithWords.PaintWithWords();
        Assert.True(pipeline.SetCrossAttentionProcessor(painter.ProcessorFor));
        var request = new GenerationRequest(scene.Short.Text, 11, 12, 2.0, Batch: 2);
        using var mask = tensor(region.Mask.Select(m => m ? 1f : 0f).ToArray(), [64, 64]);
        double Inside(double weight)
        {
            var extra = painter.Attach(new EDiffI.Conditioning.ConditioningInputs(),
                new EDiffI.Attention.PaintRequest(request.Prompt, [new EDiffI.Attention.PaintRegion(phrase, mask)], weight), pipeline.TextEncoders());
            using var images = pipeline.Generate(request, sampler, schedule, extra: extra);
            using var nearest = ControlMetrics.PaletteIndices(images);
            using var hits = nearest.eq(region.Color).to(ScalarType.Float32) * mask;
            return hits.sum().item<float>() / (2 * mask.sum().item<float>()); // share of the region in the phrase's colour
        }
        double plain = Inside(0), painted = Inside(1);
        Assert.True(painted > plain + 0.2 && painted > 0.3, $"'{phrase}' in \"{request.Prompt}\": {plain:P0} of the region in its colour without painting, {painted:P0} with w'=1");
    }

    private static Tensor Texture(TextureSpec spec)
    {
        var rgb = new byte[64 * 64 * 3];
        TextureRenderer.Render(spec, 64, rgb);
        using var one = SceneRenderer.ToImages(rgb, 1, 64);
        return one[0].clone();
    }

    [Fact]
    public void WithTilingTheShippedModelsTexturesRepeatWithoutTheSeamTheyShowOtherwise()
    {
        using var pipeline = TextToImagePipeline.Load(Folder, Catalog, CPU, ScalarType.Float32);
        using var service = new GenerationService(pipeline, [new EDiffI.Plugins.Sampling.HeunSampler()], [new EDiffI.Sampling.KarrasSchedule()], ownsPipeline: false);
        string[] prompts = ["red bricks with grey mortar", "mossy green cobblestones", "brown wooden planks", "blue marble"];
        double Ratio(EDiffI.Networks.TileAxes tiling)
        {
            var ratios = new List<double>();
            foreach (string prompt in prompts)
            {
                using var result = service.Generate(new GenerationRequest(prompt, 21, 16, Batch: 2) { Tiling = tiling });
                for (int i = 0; i < 2; i++)
                {
                    using var image = result.Images[i];
                    ratios.Add(EDiffI.Networks.Tiling.SeamRatio(image, EDiffI.Networks.TileAxes.X));
                    ratios.Add(EDiffI.Networks.Tiling.SeamRatio(image, EDiffI.Networks.TileAxes.Y));
                }
            }
            return ratios.Average();
        }
        double tiled = Ratio(EDiffI.Networks.TileAxes.Both), plain = Ratio(EDiffI.Networks.TileAxes.None);
        string report = $"seam ratio with tiling {tiled:0.00}, without {plain:0.00} (8 textures, both axes)";
        File.WriteAllText(Path.Combine(Path.GetTempPath(), "ediffi-shipped-seams.txt"), report);
        Assert.True(plain > 2, report);
        Assert.True(tiled < 1.2, report);
    }
}
