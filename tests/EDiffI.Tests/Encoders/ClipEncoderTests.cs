using EDiffI.Conformance;
using EDiffI.Encoders;
using EDiffI.IO;
using EDiffI.Plugins.Clip;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using TorchSharp;
using static TorchSharp.torch;

namespace EDiffI.Tests.Encoders;

/// <summary>The CLIP towers against transformers' CLIPModel outputs (float32, relative error ≤ 1e-4).</summary>
public class ClipEncoderTests
{
    private const double Tolerance = 1e-4;

    [Fact]
    public void TextTowerMatchesTheReference()
    {
        var r = ClipFixtures.Expected;
        using var encoder = ClipTextEncoder.Load(ClipFixtures.ModelFolder);
        var (hidden, pooled, embeds) = encoder.Forward(r["input_ids"], r["attention_mask"].to(ScalarType.Bool));
        Assert.InRange(ClipFixtures.RelativeError(hidden, r["text_last_hidden_state"]), 0, Tolerance);
        Assert.InRange(ClipFixtures.RelativeError(pooled, r["text_pooler_output"]), 0, Tolerance);
        Assert.InRange(ClipFixtures.RelativeError(embeds, r["text_embeds"]), 0, Tolerance);
    }

    [Fact]
    public void EncodeFromPromptsMatchesTheReference()
    {
        var r = ClipFixtures.Expected;
        using var encoder = ClipTextEncoder.Load(ClipFixtures.ModelFolder);
        var t = encoder.Encode(r.Prompts, CPU);
        Assert.Equal(ScalarType.Float32, t.Tokens.dtype);
        Assert.InRange(ClipFixtures.RelativeError(t.Tokens, r["text_last_hidden_state"]), 0, Tolerance);
        Assert.True(t.Mask.eq(r["attention_mask"].to(ScalarType.Bool)).all().item<bool>());
        Assert.InRange(ClipFixtures.RelativeError(t.Pooled!, r["text_embeds"]), 0, Tolerance);
        Assert.Equal(32, encoder.PooledDimension);
        Assert.Equal(77, encoder.MaxTokens);
    }

    [Fact]
    public void VisionTowerMatchesTheReference()
    {
        var r = ClipFixtures.Expected;
        using var encoder = ClipImageEncoder.Load(ClipFixtures.ModelFolder);
        var (hidden, pooled, embeds) = encoder.Forward(r["pixel_values"]);
        Assert.InRange(ClipFixtures.RelativeError(hidden, r["vision_last_hidden_state"]), 0, Tolerance);
        Assert.InRange(ClipFixtures.RelativeError(pooled, r["vision_pooler_output"]), 0, Tolerance);
        Assert.InRange(ClipFixtures.RelativeError(embeds, r["image_embeds"]), 0, Tolerance);
    }

    /// <summary>
    /// PIL resizes uint8 images with fixed-point bicubic weights and rounds; libtorch computes the same
    /// antialiased filter in float and we round after it, so a pixel may land one 8-bit step away at a
    /// rounding tie. Tolerance: 1/255 per pixel (plus float noise), measured before normalisation.
    /// </summary>
    [Fact]
    public void PreprocessingOfTheImageFileMatchesClipImageProcessor()
    {
        var r = ClipFixtures.Expected;
        using var encoder = ClipImageEncoder.Load(ClipFixtures.ModelFolder);
        var image = ClipImageFiles.Load(ClipFixtures.ImagePath);
        Assert.Equal(new long[] { 1, 3, 45, 70 }, image.shape);
        var pixels = encoder.Processor.Apply(image);
        var std = tensor(encoder.Processor.Std).view(1, 3, 1, 1);
        double worst = ((pixels - r["pixel_values"]) * std).abs().max().item<float>();
        Assert.InRange(worst, 0, 1 / 255.0 + 1e-5);
        var fromFile = encoder.EncodeFile(ClipFixtures.ImagePath);
        Assert.InRange(ClipFixtures.RelativeError(fromFile, r["image_embeds"]), 0, 2e-2);
    }

    [Fact]
    public void ImageEncoderTakesAnySizeAndGivesFloat32()
    {
        using var encoder = ClipImageEncoder.Load(ClipFixtures.ModelFolder);
        var images = rand(2, 3, 50, 40) * 2 - 1;
        var e = encoder.Encode(images);
        Assert.Equal(new long[] { 2, 32 }, e.shape);
        Assert.Equal(ScalarType.Float32, e.dtype);
        Assert.Throws<ArgumentException>(() => encoder.Encode(rand(2, 1, 32, 32)));
    }

    [Fact]
    public void UnreadableImagesGetClearErrors()
    {
        using var folder = new TinyModel.TempFolder();
        string bad = Path.Combine(folder.Path, "not-an-image.png");
        File.WriteAllText(bad, "this is text, not a PNG");
        var e = Assert.Throws<InvalidDataException>(() => ClipImageFiles.Load(bad));
        Assert.Contains(bad, e.Message, StringComparison.Ordinal);
        Assert.Throws<FileNotFoundException>(() => ClipImageFiles.Load(Path.Combine(folder.Path, "missing.png")));
    }

    [Fact]
    public void MissingAndMisshapenTensorsAreListedInOneMessage()
    {
        using var folder = CopyOfFixture(tensors =>
        {
            tensors.Remove("text_model.final_layer_norm.bias", out var removed);
            removed!.Dispose();
            tensors["text_projection.weight"] = zeros(31, 64);
            tensors["vision_model.pre_layrnorm.weight"] = zeros(65);
        });
        var text = Assert.Throws<InvalidDataException>(() => ClipTextEncoder.Load(folder.Path));
        Assert.Contains("1 missing: text_model.final_layer_norm.bias", text.Message, StringComparison.Ordinal);
        Assert.Contains("text_projection.weight is [31, 64], expected [32, 64]", text.Message, StringComparison.Ordinal);
        var both = Assert.Throws<InvalidDataException>(() => ClipCheckpoint.Load(folder.Path, ClipTowers.Both));
        Assert.Contains("text_model.final_layer_norm.bias", both.Message, StringComparison.Ordinal);
        Assert.Contains("text_projection.weight", both.Message, StringComparison.Ordinal);
        Assert.Contains("vision_model.pre_layrnorm.weight is [65]", both.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ShardedAndHalfPrecisionCheckpointsLoad()
    {
        var all = SafeTensorsWeights.Read(Path.Combine(ClipFixtures.ModelFolder, ClipCheckpoint.WeightsFile));
        using var folder = CopyOfFixture(_ => { }, writeWeights: false);
        // Two shards, the second in float16 (cast to float32 on load), and an index naming them.
        var names = all.Keys.Order(StringComparer.Ordinal).ToList();
        var first = names.Take(names.Count / 2).ToDictionary(n => n, n => all[n]);
        var second = names.Skip(names.Count / 2).ToDictionary(n => n, n => all[n].to(ScalarType.Float16));
        SafeTensorsWeights.Save(first, Path.Combine(folder.Path, "model-00001-of-00002.safetensors"));
        SafeTensorsWeights.Save(second, Path.Combine(folder.Path, "model-00002-of-00002.safetensors"));
        var map = string.Join(",\n", names.Select((n, i) => $"\"{n}\": \"model-0000{(i < names.Count / 2 ? 1 : 2)}-of-00002.safetensors\""));
        File.WriteAllText(Path.Combine(folder.Path, ClipCheckpoint.IndexFile), $"{{\"metadata\": {{}}, \"weight_map\": {{{map}}}}}");

        var r = ClipFixtures.Expected;
        using var text = ClipTextEncoder.Load(folder.Path);
        using var vision = ClipImageEncoder.Load(folder.Path);
        var (_, _, textEmbeds) = text.Forward(r["input_ids"], r["attention_mask"].to(ScalarType.Bool));
        var (_, _, imageEmbeds) = vision.Forward(r["pixel_values"]);
        // Half precision weights: about three significant digits.
        Assert.InRange(ClipFixtures.RelativeError(textEmbeds, r["text_embeds"]), 0, 1e-2);
        Assert.InRange(ClipFixtures.RelativeError(imageEmbeds, r["image_embeds"]), 0, 1e-2);
    }

    [Fact]
    public void FactoriesAreRegisteredAndResolveRelativePaths()
    {
        var services = new ServiceCollection();
        new ClipPlugin().Register(services, new ConfigurationBuilder().Build());
        using var provider = services.BuildServiceProvider();
        var textFactory = provider.GetServices<ITextEncoderFactory>().Single(f => f.Kind == "clip");
        var imageFactory = provider.GetServices<IImageEncoderFactory>().Single(f => f.Kind == "clip-vision");
        using var text = textFactory.Create(new TextEncoderSpec { Kind = "clip", Path = "clip" }, ClipFixtures.Root);
        using var image = imageFactory.Create(new ImageEncoderSpec { Path = "clip" }, ClipFixtures.Root);
        Assert.Equal(64, text.Dimension);
        Assert.Equal(32, image.Dimension);
        var noPath = Assert.Throws<ArgumentException>(() => textFactory.Create(new TextEncoderSpec { Kind = "clip" }, ClipFixtures.Root));
        Assert.Contains("Path", noPath.Message, StringComparison.Ordinal);
        Assert.Throws<DirectoryNotFoundException>(() => imageFactory.Create(new ImageEncoderSpec { Path = "no-such-folder" }, ClipFixtures.Root));
    }

    [Fact]
    public void DescribeAgreesWithTheBuiltEncodersAndReadsOnlyTheConfiguration()
    {
        ITextEncoderFactory textFactory = new ClipTextEncoderFactory();
        IImageEncoderFactory imageFactory = new ClipImageEncoderFactory();
        var textSpec = new TextEncoderSpec { Kind = "clip", Path = "clip" };
        var imageSpec = new ImageEncoderSpec { Path = "clip" };
        using (var text = textFactory.Create(textSpec, ClipFixtures.Root))
            Assert.Equal(new TextEncoderShape(text.Dimension, text.MaxTokens, text.PooledDimension), textFactory.Describe(textSpec, ClipFixtures.Root));
        using (var image = imageFactory.Create(imageSpec, ClipFixtures.Root))
            Assert.Equal(image.Dimension, imageFactory.Describe(imageSpec, ClipFixtures.Root));
        Assert.Equal(TextStream.Clip, textFactory.CheckpointStream);
        Assert.Equal("clip", imageFactory.CompanionOf);
        // A folder holding only config.json: nothing to build from, enough to describe.
        using var folder = new TinyModel.TempFolder();
        File.Copy(Path.Combine(ClipFixtures.ModelFolder, "config.json"), Path.Combine(folder.Path, "config.json"));
        Assert.Equal(textFactory.Describe(textSpec, ClipFixtures.Root), textFactory.Describe(textSpec with { Path = folder.Path }, null));
        Assert.Equal(32, imageFactory.Describe(imageSpec with { Path = folder.Path }, null));
        Assert.ThrowsAny<Exception>(() => textFactory.Create(textSpec with { Path = folder.Path }, null));
        Assert.Throws<DirectoryNotFoundException>(() => textFactory.Describe(textSpec with { Path = "no-such-folder" }, ClipFixtures.Root));
        var spec = textFactory.ForCheckpoint(ClipFixtures.ModelFolder);
        Assert.Equal(("clip", ClipFixtures.ModelFolder, 64), (spec.Kind, spec.Path, spec.Dimension));
    }

    [Fact]
    public void EncodingLeaksNoTensors()
    {
        using var encoder = ClipTextEncoder.Load(ClipFixtures.ModelFolder);
        using var image = ClipImageEncoder.Load(ClipFixtures.ModelFolder);
        using var images = rand(1, 3, 40, 40);
        // Warm up once so lazily created tensors are not counted.
        Release(encoder.Encode(["warm up"], CPU));
        image.Encode(images).Dispose();
        var stats = DisposeScopeManager.Statistics;
        stats.Reset();
        long before = stats.ThreadTotalLiveCount;
        Release(encoder.Encode(["red bricks with white mortar", "a blue ring"], CPU));
        image.Encode(images).Dispose();
        long after = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        Assert.True(before == after, $"live tensors {before} before, {after} after");
    }

    private static void Release(EDiffI.Conditioning.TextEmbedding t)
    {
        t.Tokens.Dispose();
        t.Mask.Dispose();
        t.Pooled?.Dispose();
    }

    /// <summary>A copy of the fixture folder whose weights pass through <paramref name="edit"/>.</summary>
    private static TinyModel.TempFolder CopyOfFixture(Action<Dictionary<string, Tensor>> edit, bool writeWeights = true)
    {
        var folder = new TinyModel.TempFolder();
        foreach (string file in Directory.GetFiles(ClipFixtures.ModelFolder))
        {
            if (Path.GetFileName(file) == ClipCheckpoint.WeightsFile) continue;
            File.Copy(file, Path.Combine(folder.Path, Path.GetFileName(file)));
        }
        if (writeWeights)
        {
            var tensors = SafeTensorsWeights.Read(Path.Combine(ClipFixtures.ModelFolder, ClipCheckpoint.WeightsFile));
            edit(tensors);
            SafeTensorsWeights.Save(tensors, Path.Combine(folder.Path, ClipCheckpoint.WeightsFile));
            foreach (var t in tensors.Values) t.Dispose();
        }
        return folder;
    }
}

/// <summary>The CLIP text encoder passes the text-encoder conformance suite.</summary>
public class ClipTextEncoderConformance : TextEncoderConformance
{
    protected override ITextEncoder CreateEncoder() => ClipTextEncoder.Load(ClipFixtures.ModelFolder);
}
