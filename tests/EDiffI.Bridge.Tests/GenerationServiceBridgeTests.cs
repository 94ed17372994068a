using EDiffI.Bridge;
using EDiffI.Bridge.Protocol;
using EDiffI.Conditioning;
using EDiffI.Host.Bridge;
using EDiffI.Host.Pipeline;
using EDiffI.Host.Pipeline.Conditioners;
using EDiffI.Plugins.PaintWithWords;
using EDiffI.Plugins.Sampling;
using EDiffI.Plugins.UNet;
using EDiffI.Sampling;
using TorchSharp;
using static TorchSharp.torch;

namespace EDiffI.Bridge.Tests;

/// <summary>The bridge over the real generation service: its rules answer with their codes, and a failing job loses nothing.</summary>
public sealed class GenerationServiceBridgeTests
{
    private static ModelCatalog Catalog => new([new UNetFamily()], [new EDiffI.Plugins.TextHash.WordHashEncoderFactory()]);

    /// <summary>Fails the job in the middle of conditioning, after allocating tensors, as an out-of-memory would.</summary>
    private sealed class FailingConditioner : IConditioner
    {
        public int Calls;
        public string Name => "failing";
        public string InputHelp => "anything; the job fails";
        public ConditionerSlot Slot => ConditionerSlot.None;
        public ConditionerOutput Condition(ConditionerInput input, ConditionerContext context)
        {
            Calls++;
            _ = randn(64, 64); // a tensor the job made before it failed, freed by the service's scope
#pragma warning disable CA2201 // the exception libtorch's CUDA out-of-memory reaches .NET as
            throw new System.Runtime.InteropServices.ExternalException("CUDA out of memory (injected, as libtorch reports it through TorchSharp)");
#pragma warning restore CA2201
        }
    }

    private static (GenerationService Service, FailingConditioner Failing, ScratchFolder Folder) Serve()
    {
        var folder = new ScratchFolder();
        EndToEndTests.MakeTinyModel(folder.Path);
        var pipeline = TextToImagePipeline.Load(folder.Path, Catalog, CPU, ScalarType.Float32);
        var failing = new FailingConditioner();
        var service = new GenerationService(pipeline, [new HeunSampler()], [new KarrasSchedule()],
            [new StyleConditioner(), new PaintConditioner([new PaintWithWords()]), failing]);
        return (service, failing, folder);
    }

    [Theory]
    [InlineData("negative steps", ErrorCodes.InvalidRequest, "Steps must be between 1")]
    [InlineData("empty prompt", ErrorCodes.InvalidRequest, "The prompt is empty")]
    [InlineData("unknown sampler", ErrorCodes.InvalidRequest, "Unknown sampler 'nope'")]
    [InlineData("mask without init", ErrorCodes.InvalidRequest, "needs the image it masks")]
    [InlineData("size", ErrorCodes.Unsupported, "16×16 images only")]
    [InlineData("style", ErrorCodes.Unsupported, "no CLIP image encoder")]
    [InlineData("scribble without legend", ErrorCodes.InvalidRequest, "needs both a scribble and a legend")]
    [InlineData("phrase not in prompt", ErrorCodes.InvalidRequest, "'green grass'")]
    [InlineData("duplicate legend colour", ErrorCodes.InvalidRequest, "names colour #ff0000 twice")]
    [InlineData("unknown conditioner", ErrorCodes.InvalidRequest, "Unknown conditioner 'nope'")]
    [InlineData("unknown stage", ErrorCodes.InvalidRequest, "Unknown stage 'sr9'")]
    [InlineData("stage steps", ErrorCodes.InvalidRequest, "Steps of stage '*' must be between 1")]
    public async Task TheServicesRulesAnswerWithTheirCodeAndTheSameMessageAsTheCli(string what, string code, string message)
    {
        var (service, _, folder) = Serve();
        using var _s = service;
        using var _f = folder;
        var executor = new PipelineJobExecutor(service, "tiny");
        await using var host = new TestServer(executor);
        using var client = await host.ConnectAsync();
        var scribble = new ImageData { Width = 1, Height = 1, Rgba = [255, 0, 0, 255] };
        var request = what switch
        {
            "negative steps" => new GenerateRequest { Prompt = "p", Steps = -1 },
            "empty prompt" => new GenerateRequest { Prompt = "  " },
            "unknown sampler" => new GenerateRequest { Prompt = "p", Sampler = "nope" },
            "mask without init" => new GenerateRequest { Prompt = "p", Mask = scribble },
            "size" => new GenerateRequest { Prompt = "p", Width = 256, Height = 256 },
            "style" => new GenerateRequest { Prompt = "p", StyleImage = scribble },
            "scribble without legend" => new GenerateRequest { Prompt = "p", Scribble = scribble },
            "phrase not in prompt" => new GenerateRequest { Prompt = "red bricks", Scribble = scribble, Legend = [new LegendEntry { Rgb = 0xFF0000, Phrase = "green grass" }] },
            "duplicate legend colour" => new GenerateRequest { Prompt = "red bricks", Scribble = scribble,
                Legend = [new LegendEntry { Rgb = 0xFF0000, Phrase = "red" }, new LegendEntry { Rgb = 0xFF0000, Phrase = "bricks" }] },
            "unknown conditioner" => new GenerateRequest { Prompt = "p", Conditions = [new ConditionEntry { Name = "nope", Text = "x" }] },
            "unknown stage" => new GenerateRequest { Prompt = "p", Stages = [new StageEntry { Name = "sr9", Steps = 4 }] },
            "stage steps" => new GenerateRequest { Prompt = "p", Stages = [new StageEntry { Name = "*", Steps = 0 }] },
            _ => throw new ArgumentException(what),
        };
        var e = await Assert.ThrowsAsync<BridgeException>(() => client.GenerateAsync(request));
        Assert.Equal(code, e.Code);
        Assert.Contains(message, e.Message);
        // One rule, one message: the CLI's request gets the very same text from the service.
        Assert.Equal(service.Check(executor.ToRequest(request))!.Message, e.Message);
        Assert.True(client.IsConnected);
    }

    [Fact]
    public void PerStageSettingsAndTheTileShiftSwitchReachTheGenerationRequest()
    {
        var (service, _, folder) = Serve();
        using var _s = service;
        using var _f = folder;
        var executor = new PipelineJobExecutor(service, "tiny");
        var request = executor.ToRequest(new GenerateRequest
        {
            Prompt = "p", TileAxes = "xy", NoTileShift = true,
            Stages = [new StageEntry { Name = "SR256", Steps = 7, AugmentationSigma = 0.3 }, new StageEntry { Name = "*", Guidance = 1 }],
        });
        Assert.False(request.TileShift);
        Assert.Equal(new StageSettings(7, null, 0.3, null), request.Stages["sr256"]); // names match as the service's do, in any case
        Assert.Equal(new StageSettings(null, 1, null, null), request.Stages[GenerationService.EveryStage]);
        Assert.True(executor.ToRequest(new GenerateRequest { Prompt = "p", TileAxes = "xy" }).TileShift); // an old client: the roll stays on
        var twice = Assert.Throws<EDiffI.Host.Runtime.UserException>(() => executor.ToRequest(new GenerateRequest
        {
            Prompt = "p", Stages = [new StageEntry { Name = "sr256", Steps = 7 }, new StageEntry { Name = "sr256", Steps = 8 }],
        }));
        Assert.Contains("'sr256' is given twice", twice.Message);
        Assert.Contains("stage's name", Assert.Throws<EDiffI.Host.Runtime.UserException>(() =>
            executor.ToRequest(new GenerateRequest { Prompt = "p", Stages = [new StageEntry { Steps = 7 }] })).Message);
    }

    [Fact]
    public async Task AFailingJobAnswersWithAnErrorFreesItsTensorsAndTheNextJobSucceeds()
    {
        var (service, failing, folder) = Serve();
        using var _s = service;
        using var _f = folder;
        var executor = new PipelineJobExecutor(service, "tiny");
        await using var host = new TestServer(executor);
        using var client = await host.ConnectAsync();
        var good = new GenerateRequest { Prompt = "red stripes", Seed = 5, Steps = 3, Guidance = 2 };
        var before = await client.GenerateAsync(good);
        var e = await Assert.ThrowsAsync<BridgeException>(() => client.GenerateAsync(new GenerateRequest
        {
            Prompt = "red stripes", Seed = 5, Steps = 3, Conditions = [new ConditionEntry { Name = "failing", Text = "x" }],
        }));
        Assert.Equal(ErrorCodes.Internal, e.Code);
        Assert.Contains("out of memory", e.Message);
        Assert.Equal(1, failing.Calls);
        var after = await client.GenerateAsync(good);
        Assert.Equal(before.Rgba, after.Rgba); // the model is still loaded and unchanged
        Assert.True(client.IsConnected);

        // On this thread, where the statistics count: the failed generation leaves no tensor alive.
        var failingRequest = new GenerationRequest("red stripes", 5, 3, 2).WithCondition("failing", new ConditionerInput("x"));
        Assert.Throws<System.Runtime.InteropServices.ExternalException>(() => service.Generate(failingRequest));
        DisposeScopeManager.Statistics.Reset();
        Assert.Throws<System.Runtime.InteropServices.ExternalException>(() => service.Generate(failingRequest));
        Assert.Equal(0, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }

    [Fact]
    public async Task TheTextureFieldsRoundTripAndAnOldClientsTilingStillWorks()
    {
        var (service, _, folder) = Serve();
        using var _s = service;
        using var _f = folder;
        var executor = new PipelineJobExecutor(service, "tiny");
        await using var host = new TestServer(executor);
        using var client = await host.ConnectAsync();
        foreach (string capability in new[] { Capabilities.Tiling, Capabilities.ImageToImage, Capabilities.Inpainting, Capabilities.Variations, Capabilities.MakeTileable })
            Assert.True(client.HasCapability(capability), capability);
        // An old client: only the boolean.
        var old = await client.GenerateAsync(new GenerateRequest { Prompt = "red bricks", Seed = 1, Steps = 2, Tiling = true });
        Assert.True(old.Settings.Tiling);
        // img2img at strength 0 hands the init back pixel for pixel; one axis of tiling is accepted.
        var init = new ImageData { Width = old.Width, Height = old.Height, Rgba = old.Rgba };
        var same = await client.GenerateAsync(new GenerateRequest { Prompt = "red bricks", Seed = 2, Steps = 2, TileAxes = "x", InitImage = init, Strength = 0 });
        Assert.Equal(old.Rgba, same.Rgba);
        Assert.True(same.Settings.Tiling);
        // Inpainting with an all-black mask keeps everything; a variation runs.
        var black = new ImageData { Width = old.Width, Height = old.Height, Rgba = Enumerable.Range(0, old.Rgba.Length).Select(i => (byte)(i % 4 == 3 ? 255 : 0)).ToArray() };
        var kept = await client.GenerateAsync(new GenerateRequest { Prompt = "red bricks", Seed = 3, Steps = 2, InitImage = init, Mask = black });
        Assert.Equal(old.Rgba, kept.Rgba);
        var varied = await client.GenerateAsync(new GenerateRequest { Prompt = "red bricks", Seed = 1, Steps = 2, Tiling = true, VariationSeed = 9, VariationStrength = 0.5 });
        Assert.NotEqual(old.Rgba, varied.Rgba);
        // A host without the Vulkan texture path says so instead of failing the job.
        Assert.False(client.HasCapability(Capabilities.MaterialPreview));
        var noPreview = await client.GenerateAsync(new GenerateRequest { Prompt = "red bricks", Seed = 1, Steps = 2, MaterialPreviewSize = 32 });
        Assert.Null(noPreview.MaterialPreview);
        Assert.Contains(noPreview.Notes!, n => n.Contains("no Vulkan texture path", StringComparison.Ordinal));
        var bad = await Assert.ThrowsAsync<BridgeException>(() => client.GenerateAsync(new GenerateRequest { Prompt = "p", TileAxes = "diagonal" }));
        Assert.Equal(ErrorCodes.InvalidRequest, bad.Code);
        Assert.Contains("x, y or xy", bad.Message);
    }

    [Fact]
    public async Task PbrMapsComeBackAsTheCliDerivesThemAndOnlyWhenAsked()
    {
        var (service, _, folder) = Serve();
        using var _s = service;
        using var _f = folder;
        var executor = new PipelineJobExecutor(service, "tiny");
        await using var host = new TestServer(executor);
        using var client = await host.ConnectAsync();
        Assert.True(client.HasCapability(Capabilities.Pbr));
        // An old client asks for no maps and gets none.
        var plain = await client.GenerateAsync(new GenerateRequest { Prompt = "red bricks", Seed = 4, Steps = 2, TileAxes = "xy" });
        Assert.Null(plain.Maps);
        var withMaps = await client.GenerateAsync(new GenerateRequest { Prompt = "red bricks", Seed = 4, Steps = 2, TileAxes = "xy", Pbr = true });
        Assert.Equal(plain.Rgba, withMaps.Rgba); // the maps are derived after the image; they do not change it
        var maps = withMaps.Maps!;
        int w = withMaps.Width, h = withMaps.Height;
        Assert.Equal((w, h, "opengl", "luminance (heuristic)"), (maps.Width, maps.Height, maps.NormalConvention, maps.HeightSource));
        Assert.Equal(w * h * 2, maps.Height16.Length);
        foreach (var map in new[] { maps.Normal, maps.Roughness, maps.Occlusion })
            Assert.True(map.IsWellFormed() && map.Width == w && map.Height == h);
        // The same maps as `generate --pbr` writes from this albedo (PbrMaps.FromAlbedo), quantised as the protocol says.
        var reference = EDiffI.Host.Imaging.PbrMaps.FromAlbedo(withMaps.Rgba, w, h, EDiffI.Networks.TileAxes.Both);
        for (int i = 0; i < w * h; i++)
        {
            Assert.Equal((ushort)Math.Round(reference.HeightMap[i] * 65535), BitConverter.ToUInt16(maps.Height16, i * 2));
            for (int c = 0; c < 3; c++) Assert.Equal((byte)Math.Round(reference.Normal[i * 3 + c] * 255), maps.Normal.Rgba[i * 4 + c]);
            Assert.Equal((byte)Math.Round(reference.Roughness[i] * 255), maps.Roughness.Rgba[i * 4 + 1]);
            Assert.Equal((byte)Math.Round(reference.Occlusion[i] * 255), maps.Occlusion.Rgba[i * 4 + 2]);
            Assert.Equal(255, maps.Normal.Rgba[i * 4 + 3]);
        }
        // DirectX flips the green channel and nothing else.
        var directX = (await client.GenerateAsync(new GenerateRequest { Prompt = "red bricks", Seed = 4, Steps = 2, TileAxes = "xy", Pbr = true, NormalConvention = "directx" })).Maps!;
        Assert.Equal("directx", directX.NormalConvention);
        Assert.Equal(maps.Height16, directX.Height16);
        var flipped = EDiffI.Host.Imaging.PbrMaps.FromAlbedo(withMaps.Rgba, w, h, EDiffI.Networks.TileAxes.Both, convention: EDiffI.Textures.NormalConvention.DirectX);
        for (int i = 0; i < w * h; i++) Assert.Equal((byte)Math.Round(flipped.Normal[i * 3 + 1] * 255), directX.Normal.Rgba[i * 4 + 1]);
        Assert.NotEqual(maps.Normal.Rgba, directX.Normal.Rgba);
        var bad = await Assert.ThrowsAsync<BridgeException>(() => client.GenerateAsync(new GenerateRequest { Prompt = "p", Pbr = true, NormalConvention = "sideways" }));
        Assert.Equal(ErrorCodes.InvalidRequest, bad.Code);
        Assert.Contains("opengl or directx", bad.Message);
        Assert.True(client.IsConnected);
    }

    [Fact]
    public async Task TheBridgeReturns256And1024ResultsWithStageProgress()
    {
        using var folder = new ScratchFolder();
        EndToEndTests.MakeTinyModel(folder.Path);
        using var pipeline = TextToImagePipeline.Load(folder.Path, Catalog, CPU, ScalarType.Float32);
        var family = new EDiffI.Plugins.SuperResolution.SuperResolutionFamily([new UNetFamily()]);
        var widths = pipeline.Network.Conditioning with { Streams = null };
        // A tiny cascade with the real one's sizes: 16 → 256 → 1024, one step each.
        foreach (var (name, low, high) in new[] { ("sr256", 16, 256), ("sr1024", 256, 1024) })
            using (var stage = family.Create(name, "sr-tiny", low, high, widths))
                family.Save(stage, Path.Combine(folder.Path, name));
        var manifest = ModelManifest.Load(folder.Path) with
        {
            Cascade =
            [
                new EDiffI.SuperResolution.CascadeStageSpec { Name = "sr256", Folder = "sr256", Resolution = 256, DefaultSteps = 1, SigmaMax = 1 },
                new EDiffI.SuperResolution.CascadeStageSpec { Name = "sr1024", Folder = "sr1024", Resolution = 1024, DefaultSteps = 1, SigmaMax = 1 },
            ],
        };
        using var cascade = Cascade.Load(manifest, folder.Path, 16, [family], CPU, ScalarType.Float32);
        using var service = new GenerationService(pipeline, [new HeunSampler()], [new KarrasSchedule()], ownsPipeline: false, cascade: cascade);
        var executor = new PipelineJobExecutor(service, "tiny");
        await using var host = new TestServer(executor);
        using var client = await host.ConnectAsync();
        Assert.True(client.HasCapability(Capabilities.SizePrefix + "1024"));
        foreach (int size in new[] { 256, 1024 })
        {
            var stages = new List<string>();
            var result = await client.GenerateAsync(new GenerateRequest { Prompt = "red bricks", Seed = 1, Steps = 2, Width = size, Height = size },
                progress: p => stages.Add(p.Stage));
            Assert.Equal((size, size), (result.Width, result.Height));
            Assert.Equal(size * size * 4, result.Rgba.Length);
            Assert.Equal(size == 256 ? ["base", "sr256"] : ["base", "sr256", "sr1024"], stages.Distinct());
        }
    }
}
