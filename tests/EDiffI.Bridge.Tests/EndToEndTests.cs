using System.Diagnostics;
using System.Reflection;
using EDiffI.Bridge.Protocol;
using EDiffI.Encoders;
using EDiffI.Host.Imaging;
using EDiffI.Host.Pipeline;
using EDiffI.Plugins.Sampling;
using EDiffI.Plugins.UNet;
using static TorchSharp.torch;

namespace EDiffI.Bridge.Tests;

/// <summary>The real host process (`dotnet EDiffI.Host.dll serve`) with a tiny model made on the spot.</summary>
public class EndToEndTests
{
    private static ModelManifest Manifest => new()
    {
        T5 = new TextEncoderSpec { Dimension = 32, MaxTokens = 8, Seed = 1 },
        ClipText = new TextEncoderSpec { Dimension = 32, MaxTokens = 8, Seed = 2 },
        DefaultSteps = 6,
    };

    private static ModelCatalog Catalog => new([new UNetFamily()], [new EDiffI.Plugins.TextHash.WordHashEncoderFactory()]);

    // A tiny U-Net with small random weights, as the generation tests make one (no training needed).
    internal static void MakeTinyModel(string folder)
    {
        manual_seed(21);
        using (var model = new EDiffIUNet(UNetConfig.Tiny(16) with { ClipImageDimension = 0 }))
        {
            using var noGrad = no_grad();
            foreach (var p in model.parameters()) p.add_(randn_like(p) * 0.05);
            UNetFiles.Save(model, folder);
        }
        Manifest.Save(folder);
    }

    // The host as built beside this repository: Host/bin/<configuration>/net10.0/EDiffI.Host.dll, with its plugins.
    internal static string HostDll()
    {
        string configuration = typeof(EndToEndTests).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (!File.Exists(Path.Combine(dir.FullName, "Framework.sln"))) continue;
            string dll = Path.Combine(dir.FullName, "Host", "bin", configuration, "net10.0", "EDiffI.Host.dll");
            Assert.True(File.Exists(dll), $"the host is not built at {dll}");
            return dll;
        }
        throw new InvalidOperationException("Framework.sln not found above " + AppContext.BaseDirectory);
    }

    [Fact]
    public async Task RealHostProcessGeneratesWhatThePipelineGenerates()
    {
        var folder = Directory.CreateTempSubdirectory("ediffi-e2e-").FullName;
        Process? host = null;
        try
        {
            string model = Path.Combine(folder, "tiny");
            Directory.CreateDirectory(model);
            MakeTinyModel(model);
            var options = new HostLaunchOptions { HostPath = HostDll(), ModelFolder = model, SocketPath = Path.Combine(folder, "run", "b.sock") };
            using var client = await HostLauncher.StartAsync(options, p => host = p);
            Assert.Equal(16, client.Server.Model!.Resolution);
            Assert.Contains("heun", (await client.ListAsync()).Samplers);

            var progress = new List<Progress>();
            var result = await client.GenerateAsync(new GenerateRequest { Prompt = "red stripes", Seed = 5, Steps = 4, Guidance = 2, PreviewSize = 8 }, p => progress.Add(p));
            Assert.Equal((16, 16, 5L, 4, "heun"), (result.Width, result.Height, result.Seed, result.Settings.Steps, result.Settings.Sampler));
            Assert.Equal([0, 1, 2, 3], progress.Select(p => p.Step));
            Assert.All(progress, p => Assert.Equal((8, 8, 256), (p.Preview!.Width, p.Preview.Height, p.Preview.Rgba.Length)));
            Assert.True(progress.Zip(progress.Skip(1)).All(pair => pair.First.Sigma > pair.Second.Sigma), "σ decreases step by step");

            // The same request through the pipeline in this process gives the same pixels.
            using (var pipeline = TextToImagePipeline.Load(model, Catalog, CPU, ScalarType.Float32))
            using (var images = pipeline.Sample(["red stripes"], 5, 4, 2, new HeunSampler(), new EDiffI.Sampling.KarrasSchedule(new EDiffI.Sampling.KarrasScheduleOptions())))
            using (var image = images[0])
            {
                byte[] expected = ImageFiles.ToRgba8(image, out _, out _);
                int worst = expected.Zip(result.Rgba, (a, b) => Math.Abs(a - b)).Max();
                Assert.True(worst <= 1, $"the host's image differs from the pipeline's by up to {worst} levels");
            }

            // Size and features the tiny model lacks are refused with a clear reason.
            var size = await Assert.ThrowsAsync<BridgeException>(() => client.GenerateAsync(new GenerateRequest { Prompt = "x", Width = 512, Height = 512 }));
            Assert.Equal(ErrorCodes.Unsupported, size.Code);
            Assert.Contains("16×16", size.Message);

            // Cancel a long run between evaluations.
            using var cancel = new CancellationTokenSource();
            var running = client.GenerateAsync(new GenerateRequest { Prompt = "long", Steps = 1000 }, p => { if (p.Step == 2) cancel.Cancel(); }, cancellationToken: cancel.Token);
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => running).WaitAsync(TimeSpan.FromSeconds(60));
        }
        finally
        {
            if (host is { HasExited: false }) host.Kill();
            host?.WaitForExit(10_000);
            host?.Dispose();
            try { Directory.Delete(folder, recursive: true); } catch (IOException) { }
        }
    }

    [Fact]
    public async Task HostThatCannotCreateItsSocketSaysWhy()
    {
        var folder = Directory.CreateTempSubdirectory("ediffi-e2e-").FullName;
        try
        {
            string model = Path.Combine(folder, "tiny");
            Directory.CreateDirectory(model);
            MakeTinyModel(model);
            // A regular file where the socket's folder should be: the folder cannot be made.
            string blocker = Path.Combine(folder, "blocker");
            File.WriteAllText(blocker, "");
            var options = new HostLaunchOptions { HostPath = HostDll(), ModelFolder = model, SocketPath = Path.Combine(blocker, "b.sock"), StartTimeout = TimeSpan.FromSeconds(60) };
            var e = await Assert.ThrowsAsync<BridgeException>(() => HostLauncher.StartAsync(options));
            Assert.Equal(ErrorCodes.HostStartFailed, e.Code);
            Assert.Contains("Cannot create the socket folder", e.Message);

            var missing = await Assert.ThrowsAsync<BridgeException>(() => HostLauncher.StartAsync(new HostLaunchOptions { HostPath = Path.Combine(folder, "nope.dll") }));
            Assert.Contains("not found", missing.Message);
        }
        finally
        {
            try { Directory.Delete(folder, recursive: true); } catch (IOException) { }
        }
    }
}
