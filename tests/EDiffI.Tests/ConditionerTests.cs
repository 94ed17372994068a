using EDiffI.Conditioning;
using EDiffI.Data;
using EDiffI.Conformance;
using EDiffI.Encoders;
using EDiffI.Host.Composition;
using EDiffI.Host.Data;
using EDiffI.Host.Pipeline;
using EDiffI.Host.Pipeline.Conditioners;
using EDiffI.Host.Training;
using EDiffI.Plugins.PaintWithWords;
using Microsoft.Extensions.DependencyInjection;
using static TorchSharp.torch;

namespace EDiffI.Tests;

public sealed class PaletteConditionerConformance : ConditionerConformance
{
    protected override IConditioner CreateConditioner() => new PaletteConditioner.PaletteConditioner();
    protected override ConditionerInput ValidInput() => new(Text: "#aa3322, #ffffff,#102030");
}

public sealed class PaintConditionerConformance : ConditionerConformance
{
    private static readonly IReadOnlyDictionary<TextStream, ITextEncoder> Encoders = new Dictionary<TextStream, ITextEncoder>
    {
        [TextStream.T5] = new EDiffI.Plugins.TextHash.WordHashEncoderFactory().Create(TinyModel.Manifest.T5!, null),
        [TextStream.Clip] = new EDiffI.Plugins.TextHash.WordHashEncoderFactory().Create(TinyModel.Manifest.ClipText!, null),
    };

    protected override IConditioner CreateConditioner() => new PaintConditioner([new PaintWithWords()]);
    protected override ConditionerModel Model(IConditioner conditioner) => new(16, Encoders, null, true, new Dictionary<string, ConditionerSlot>());
    protected override ConditionerInput ValidInput() => new(Text: """{"#ff0000": "red bricks"}""", Image: ConditionerTests.TopHalf(0xFF0000), Weight: 0.5);
}

public sealed class StyleConditionerConformance : ConditionerConformance
{
    /// <summary>A stand-in CLIP image encoder: the mean colour, repeated to 16 values.</summary>
    private sealed class MeanColourEncoder : IImageEncoder
    {
        public string Name => "mean-colour";
        public int Dimension => 16;
        public Tensor Encode(Tensor images)
        {
            using var scope = NewDisposeScope();
            var m = images.mean([2L, 3L]);
            return cat([m, m, m, m, m, m], 1).narrow(1, 0, 16).MoveToOuterDisposeScope();
        }
        public void MoveTo(Device device, ScalarType? dtype = null) { }
        public void Dispose() { }
    }

    protected override IConditioner CreateConditioner() => new StyleConditioner();
    protected override ConditionerModel Model(IConditioner conditioner) =>
        new(16, new Dictionary<TextStream, ITextEncoder>(), new MeanColourEncoder(), true, new Dictionary<string, ConditionerSlot>());
    protected override ConditionerInput ValidInput() => new(Image: ConditionerTests.TopHalf(0x3366CC), Weight: 1);
}

public sealed class ConditionerTests
{
    /// <summary>A 16×16 RGBA image whose top half is <paramref name="rgb"/> and bottom half black.</summary>
    internal static ConditionerImage TopHalf(int rgb)
    {
        var rgba = new byte[16 * 16 * 4];
        for (int p = 0; p < 16 * 16; p++)
        {
            if (p < 8 * 16) { rgba[4 * p] = (byte)(rgb >> 16); rgba[4 * p + 1] = (byte)(rgb >> 8); rgba[4 * p + 2] = (byte)rgb; }
            rgba[4 * p + 3] = 255;
        }
        return new ConditionerImage(rgba, 16, 16);
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("#ff0000,#00ff00,#0000ff,#ffffff,#000000,#123456", "at most 5")]
    [InlineData("#ff00", "'#ff00' is not a colour")]
    [InlineData("red", "'red' is not a colour")]
    public void PaletteInputsAreCheckedWithAMessage(string text, string message)
    {
        var e = Assert.Throws<ArgumentException>(() => PaletteConditioner.PaletteConditioner.Parse(new ConditionerInput(Text: text)));
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void APalettesTrainingInputIsTheImagesMainColours()
    {
        // Three quarters red (#c83214), one quarter near white: two colours, red first.
        var image = full(3, 16, 16, -1f);
        image[0] = full(16, 16, 200 / 127.5f - 1);
        image[1] = full(16, 16, 50 / 127.5f - 1);
        image[2] = full(16, 16, 20 / 127.5f - 1);
        image[.., 12..] = full(3, 4, 16, 250 / 127.5f - 1);
        var input = new PaletteConditioner.PaletteConditioner().InputFor(image, "red bricks");
        Assert.Equal("#c83214,#fafafa", input.Text);
    }

    /// <summary>
    /// An adapter folder over a tiny base: the palette plugin, loaded from its folder like a user's, changes
    /// the image; without its input the adapted model draws exactly as the base.
    /// </summary>
    [Fact]
    public void ThePaletteSampleFromItsFolderChangesTheImageAndWithoutInputEqualsTheBase()
    {
        using var folder = new TinyModel.TempFolder();
        string baseFolder = Path.Combine(folder.Path, "base"), adapterFolder = Path.Combine(folder.Path, "palette");
        Directory.CreateDirectory(baseFolder);
        Directory.CreateDirectory(adapterFolder);
        TinyModel.Pipeline(baseFolder).Dispose();
        using var provider = HostComposition.Services(new Microsoft.Extensions.Configuration.ConfigurationBuilder().Build(),
            [Path.Combine(AppContext.BaseDirectory, "plugins")]).BuildServiceProvider();
        var palette = provider.GetServices<IConditioner>().Single(c => c.Name == "palette");
        Assert.Equal("PaletteConditioner", palette.GetType().Assembly.GetName().Name);

        // The adapter folder: the slot, then weights moved off their zero start (as training would).
        var spec = new AdapterSpec { Name = "palette", Tokens = palette.Slot.TokenWidth, Pooled = palette.Slot.PooledWidth };
        var manifest = new ModelManifest { Base = "../base", Adapters = [spec], DefaultSteps = 6 };
        manifest.Save(adapterFolder);
        using (var untrained = TextToImagePipeline.Load(adapterFolder, TinyModel.Catalog, CPU, ScalarType.Float32))
        {
            manual_seed(3);
            using (no_grad())
                foreach (var p in untrained.Network.StreamParameters("palette").Values) p.copy_(randn_like(p) * 0.3);
            AdapterWeights.Save(Path.Combine(adapterFolder, "palette.safetensors"), "palette", untrained.Networks, null);
        }
        (manifest with { Adapters = [spec with { Weights = "palette.safetensors" }] }).Save(adapterFolder);

        using var basePipeline = TextToImagePipeline.Load(baseFolder, TinyModel.Catalog, CPU, ScalarType.Float32);
        using var adapted = TextToImagePipeline.Load(adapterFolder, TinyModel.Catalog, CPU, ScalarType.Float32);
        using var baseService = TinyModel.Service(basePipeline, palette);
        using var service = TinyModel.Service(adapted, palette);
        Assert.Contains("palette", service.Conditioners);
        var request = new GenerationRequest("red stripes", 5, 6, 2.0);
        using var plain = baseService.Generate(request);
        using var noInput = service.Generate(request);
        using var painted = service.Generate(request.WithCondition("palette", new ConditionerInput(Text: "#2040ff,#ffffff")));
        Assert.True(noInput.Images.equal(plain.Images).all().item<bool>(), "without its input the adapter must not change the image");
        Assert.False(painted.Images.allclose(plain.Images, 1e-4, 1e-4));
        // The base has no slot: the conditioner is refused with what to do.
        var problem = baseService.Check(request.WithCondition("palette", new ConditionerInput(Text: "#2040ff")));
        Assert.Equal(ProblemKind.Unsupported, problem?.Kind);
        Assert.Contains("no 'palette' slot", problem!.Message);
        Assert.Contains("--adapter palette", problem.Message);
    }

    [Fact]
    public void AdapterTrainingLearnsOnlyTheSlotLeavesTheBaseUntouchedAndResumes()
    {
        using var folder = new TinyModel.TempFolder();
        string baseFolder = Path.Combine(folder.Path, "base"), outFolder = Path.Combine(folder.Path, "palette");
        Directory.CreateDirectory(baseFolder);
        TinyModel.Pipeline(baseFolder).Dispose();
        var hashes = Directory.GetFiles(baseFolder).ToDictionary(f => f, f => Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(f))));
        var palette = new PaletteConditioner.PaletteConditioner();
        IDatasetSource Open(int resolution) => DatasetSources.Open("world:train", resolution, [new EDiffI.Plugins.World.WorldSourceFactory()]);
        var log = new List<string>();
        AdapterTrainer.Run(baseFolder, outFolder, palette, Open, TinyModel.Catalog, CPU, ScalarType.Float32,
            new AdapterTrainingOptions(BatchSize: 4, Steps: 3, CheckpointEvery: 2), log.Add, CancellationToken.None);
        Assert.Equal(3, ModelManifest.Load(outFolder).TrainedSteps);
        Assert.True(File.Exists(Path.Combine(outFolder, "palette.safetensors")));
        using (var adapted = TextToImagePipeline.Load(outFolder, TinyModel.Catalog, CPU, ScalarType.Float32))
        {
            var slot = adapted.Network.StreamParameters("palette");
            Assert.NotEmpty(slot);
            // The pooled map starts at zero; training moved it.
            Assert.Contains(slot, kv => kv.Key.Contains(".map.") && kv.Value.abs().sum().item<float>() > 0);
        }
        AdapterTrainer.Run(baseFolder, outFolder, palette, Open, TinyModel.Catalog, CPU, ScalarType.Float32,
            new AdapterTrainingOptions(BatchSize: 4, Steps: 5, CheckpointEvery: 2), log.Add, CancellationToken.None);
        Assert.Equal(5, ModelManifest.Load(outFolder).TrainedSteps);
        Assert.Contains(log, l => l.Contains("resuming") && l.Contains("step 3"));
        Assert.All(hashes, kv => Assert.Equal(kv.Value, Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(kv.Key)))));
    }
}
