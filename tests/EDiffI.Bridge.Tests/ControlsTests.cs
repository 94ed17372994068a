using EDiffI.Attention;
using EDiffI.Bridge.Protocol;
using EDiffI.Conditioning;
using EDiffI.Host.Bridge;
using EDiffI.Host.Commands;
using EDiffI.Host.Pipeline.Conditioners;
using EDiffI.Host.Imaging;
using EDiffI.Host.Pipeline;
using EDiffI.Plugins.PaintWithWords;
using EDiffI.Plugins.Sampling;
using EDiffI.Sampling;
using static TorchSharp.torch;

namespace EDiffI.Bridge.Tests;

/// <summary>Paint-with-words and the style reference over the bridge, on the shipped model (models/default).</summary>
public class ControlsTests
{
    private static ModelCatalog Catalog => new(
        [new EDiffI.Plugins.UNet.UNetFamily()],
        [new EDiffI.Plugins.T5.T5EncoderFactory(), new EDiffI.Plugins.Clip.ClipTextEncoderFactory()],
        [new EDiffI.Plugins.Clip.ClipImageEncoderFactory()],
        [new EDiffI.Plugins.Experts.SigmaIntervalRouterFactory()], new EDiffI.Plugins.Experts.ExpertPlacementFactory());

    private static string DefaultModel()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Framework.sln"))) return Path.Combine(dir.FullName, "models", "default");
        throw new InvalidOperationException("Framework.sln not found above " + AppContext.BaseDirectory);
    }

    // 32×32 (the model draws 64×64, so it is resampled): the left half red, a 4×4 grey corner the legend does not name.
    private static ImageData Scribble()
    {
        var rgba = new byte[32 * 32 * 4];
        for (int y = 0; y < 32; y++)
            for (int x = 0; x < 32; x++)
            {
                int p = 4 * (y * 32 + x);
                (rgba[p], rgba[p + 1], rgba[p + 2], rgba[p + 3]) = x < 16 ? ((byte)255, (byte)0, (byte)0, (byte)255)
                    : x >= 28 && y >= 28 ? ((byte)90, (byte)90, (byte)90, (byte)255) : ((byte)0, (byte)0, (byte)0, (byte)255);
            }
        return new ImageData { Width = 32, Height = 32, Rgba = rgba };
    }

    // 48×40 yellow and purple stripes: not square, as references often are.
    private static ImageData StyleImage()
    {
        var rgba = new byte[48 * 40 * 4];
        for (int y = 0; y < 40; y++)
            for (int x = 0; x < 48; x++)
            {
                int p = 4 * (y * 48 + x);
                (rgba[p], rgba[p + 1], rgba[p + 2], rgba[p + 3]) = (x / 6) % 2 == 0 ? ((byte)235, (byte)215, (byte)50, (byte)255) : ((byte)130, (byte)60, (byte)180, (byte)255);
            }
        return new ImageData { Width = 48, Height = 40, Rgba = rgba };
    }

    [Fact]
    public async Task PaintAndStyleRequestsDrawWhatThePipelineDrawsWithNotes()
    {
        using var pipeline = TextToImagePipeline.Load(DefaultModel(), Catalog, CPU, ScalarType.Float32);
        var sampler = new HeunSampler();
        var schedule = new KarrasSchedule();
        using var service = new GenerationService(pipeline, [sampler], [schedule],
            [new StyleConditioner(), new PaintConditioner([new PaintWithWords()])], ownsPipeline: false);
        var executor = new PipelineJobExecutor(service, "default");
        Assert.Contains(Capabilities.PaintWithWords, executor.Capabilities);
        Assert.Contains(Capabilities.StyleReference, executor.Capabilities);
        await using var host = new TestServer(executor);
        using var client = await host.ConnectAsync();
        Assert.True(client.HasCapability(Capabilities.PaintWithWords) && client.HasCapability(Capabilities.StyleReference));

        const string prompt = "a red circle on blue stripes";
        GenerateRequest Request() => new()
        {
            Prompt = prompt, Seed = 3, Steps = 8, Guidance = 2,
            Scribble = Scribble(), Legend = [new LegendEntry { Rgb = 0xFF0000, Phrase = "a red circle", Strength = 1 }],
            StyleImage = StyleImage(), StyleStrength = 1.5,
        };
        var result = await client.GenerateAsync(Request());
        Assert.Equal((1.5, 1), (result.Settings.StyleStrength, result.Settings.PaintedRegions));
        Assert.NotNull(result.Notes);
        Assert.Contains(result.Notes!, n => n.Contains("#5a5a5a") && n.Contains("ignored"));
        Assert.Contains(result.Notes!, n => n.Contains("32×32") && n.Contains("resampled"));

        // The same request as the CLI makes it from files (scribble and style as PNGs, the legend as JSON): bit for bit the same image.
        using var folder = new ScratchFolder();
        var scribble = Scribble();
        var style = StyleImage();
        string Png(string name, ImageData image)
        {
            string path = Path.Combine(folder.Path, name);
            using var pixels = ImageFiles.FromRgba8(image.Rgba, image.Width, image.Height);
            ImageFiles.SavePng(pixels, path);
            return path;
        }
        string legend = Path.Combine(folder.Path, "legend.json");
        File.WriteAllText(legend, """{"#ff0000": {"phrase": "a red circle", "weight": 1}}""");
        var cli = GenerateCommand.Request(new GenerateSettings
        {
            Prompt = prompt, Seed = 3, Steps = 8, Guidance = 2, Paint = Png("scribble.png", scribble), Legend = legend,
            Style = Png("style.png", style), StyleStrength = 1.5,
        });
        using var direct = service.Generate(cli);
        using var first = direct.Images[0];
        byte[] expected = ImageFiles.ToRgba8(first, out _, out _);
        Assert.Equal(expected, result.Rgba);
        Assert.Equal(result.Notes, direct.Notes);

        // The controls change the image, and a plain request has no notes.
        var plain = await client.GenerateAsync(new GenerateRequest { Prompt = prompt, Seed = 3, Steps = 8, Guidance = 2 });
        Assert.Null(plain.Notes);
        Assert.Equal((0.0, 0), (plain.Settings.StyleStrength, plain.Settings.PaintedRegions));
        int changed = plain.Rgba.Zip(result.Rgba, (a, b) => Math.Abs(a - b) > 8 ? 1 : 0).Sum();
        Assert.True(changed > plain.Rgba.Length / 10, $"only {changed} of {plain.Rgba.Length} bytes changed");

        // A legend phrase that is not in the prompt is refused before the job is queued, naming the phrase.
        var wrong = Request();
        wrong.Legend = [new LegendEntry { Rgb = 0xFF0000, Phrase = "green grass" }];
        var e = await Assert.ThrowsAsync<BridgeException>(() => client.GenerateAsync(wrong));
        Assert.Equal(ErrorCodes.InvalidRequest, e.Code);
        Assert.Contains("'green grass'", e.Message);
        // A legend colour the scribble does not use is a note; a legend with no colour in the scribble an error.
        var absent = Request();
        absent.Legend = [new LegendEntry { Rgb = 0x00FF00, Phrase = "a red circle" }];
        var none = await Assert.ThrowsAsync<BridgeException>(() => client.GenerateAsync(absent));
        Assert.Equal(ErrorCodes.InvalidRequest, none.Code);
        Assert.Contains("No colour of the legend", none.Message);
        Assert.True(client.IsConnected);
    }
}

/// <summary>A temporary folder removed when disposed.</summary>
internal sealed class ScratchFolder : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("ediffi-bridge-").FullName;

    public void Dispose() => Directory.Delete(Path, recursive: true);
}
