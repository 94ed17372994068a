using EDiffI.Encoders;
using EDiffI.Host.Pipeline;
using EDiffI.Host.Runtime;
using EDiffI.Networks;
using EDiffI.Plugins.TextHash;
using EDiffI.Plugins.UNet;
using static TorchSharp.torch;

namespace EDiffI.Tests;

/// <summary>Model assembly (<see cref="ModelLoader"/>) and what it asks of the plugins' factories.</summary>
public class ModelLoaderTests
{
    [Fact]
    public void TheLoaderRefusesAManifestNamingAnUnknownTextEncoder()
    {
        using var folder = new TinyModel.TempFolder();
        TinyModel.Pipeline(folder.Path).Dispose();
        (TinyModel.Manifest with { ClipText = new TextEncoderSpec { Kind = "no-such-encoder", Dimension = 32 } }).Save(folder.Path);
        var e = Assert.Throws<UserException>(() => new ModelLoader(TinyModel.Catalog).Load(folder.Path, CPU, ScalarType.Float32));
        Assert.Contains("'no-such-encoder'", e.Message, StringComparison.Ordinal);
        Assert.Contains("CLIP text stream", e.Message, StringComparison.Ordinal);
        Assert.Contains(Path.Combine(folder.Path, ModelManifest.FileName), e.Message, StringComparison.Ordinal);
        Assert.Contains("text encoders: word-hash", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TheLoaderRefusesAManifestNamingAnUnknownImageEncoder()
    {
        using var folder = new TinyModel.TempFolder();
        TinyModel.Pipeline(folder.Path).Dispose();
        (TinyModel.Manifest with { ClipImage = new ImageEncoderSpec { Kind = "no-such-vision", Path = "clip" } }).Save(folder.Path);
        var e = Assert.Throws<UserException>(() => TextToImagePipeline.Load(folder.Path, TinyModel.Catalog, CPU, ScalarType.Float32));
        Assert.Contains("'no-such-vision'", e.Message, StringComparison.Ordinal);
        Assert.Contains("CLIP image stream", e.Message, StringComparison.Ordinal);
        Assert.Contains("image encoders: none", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void WordHashDescribeAgreesWithTheBuiltEncoder()
    {
        ITextEncoderFactory factory = new WordHashEncoderFactory();
        var spec = new TextEncoderSpec { Dimension = 24, MaxTokens = 7, Seed = 3 };
        using (var encoder = factory.Create(spec, null))
            Assert.Equal(new TextEncoderShape(encoder.Dimension, encoder.MaxTokens, encoder.PooledDimension), factory.Describe(spec, null));
        Assert.True(factory.IsStandIn);
        Assert.Null(factory.CheckpointStream);
        Assert.Throws<ArgumentException>(() => factory.Describe(spec with { Dimension = 1 }, null));
        Assert.Throws<ArgumentException>(() => factory.ForCheckpoint("/nowhere"));
    }

    [Fact]
    public void WidthsComeFromTheDescriptionsAndMatchTheLoadedNetwork()
    {
        using var folder = new TinyModel.TempFolder();
        using var pipeline = TinyModel.Pipeline(folder.Path);
        var widths = new ModelLoader(TinyModel.Catalog).Widths(pipeline.Manifest, folder.Path);
        var network = pipeline.Network.Conditioning;
        Assert.Equal((network.T5, network.ClipText, network.ClipPooled, network.ClipImage), (widths.T5, widths.ClipText, widths.ClipPooled, widths.ClipImage));
    }

    [Fact]
    public void TheCatalogChoosesTrainingEncodersByWhatThePluginsDeclare()
    {
        var catalog = TinyModel.Catalog;
        Assert.Equal(new TextEncoderSpec { Kind = "word-hash", Dimension = 48, MaxTokens = 32, Seed = 2 }, catalog.StandInSpec(48, 32, 2));
        var e = Assert.Throws<UserException>(() => catalog.CheckpointSpec(TextStream.T5, "/some/folder", "--t5"));
        Assert.Contains("--t5", e.Message, StringComparison.Ordinal);
        Assert.Contains("T5 stream", e.Message, StringComparison.Ordinal);
        Assert.Null(catalog.CompanionImageSpec(new TextEncoderSpec { Kind = "clip", Path = "/some/folder" }));
        var none = new ModelCatalog([new UNetFamily()], []);
        Assert.Contains("stand-in", Assert.Throws<UserException>(() => none.StandInSpec(64, 32, 1)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TheNetworkFamilySaysEachShapesDefaultResolution()
    {
        INetworkFamily family = new UNetFamily();
        foreach (string preset in new[] { "tiny", "compact", "small" }) // the large shapes answer alike, from the same presets
        {
            using var network = family.Create(preset);
            Assert.Equal(network.Resolution, family.DefaultResolution(preset));
        }
        Assert.Equal(16, family.DefaultResolution("tiny"));
        Assert.Throws<ArgumentException>(() => family.DefaultResolution("huge"));
    }
}
