using EDiffI.Bridge.Protocol;
using MessagePack;

namespace EDiffI.Bridge.Tests;

public class ProtocolTests
{
    private static ImageData Image(int w, int h) => new() { Width = w, Height = h, Rgba = [.. Enumerable.Range(0, w * h * 4).Select(i => (byte)(i * 7))] };

    private static GenerateRequest FullRequest() => new()
    {
        RequestId = 3, Prompt = "red bricks", Seed = -5, Steps = 12, Guidance = 3.5, Width = 64, Height = 32, Sampler = "euler", Tiling = true,
        StyleImage = Image(2, 3), Scribble = Image(4, 1), Legend = [new LegendEntry { Rgb = 0xFF0000, Phrase = "bricks", Strength = 0.4 }], PreviewSize = 32,
        TileAxes = "x", InitImage = Image(2, 2), Mask = Image(2, 2), Strength = 0.25, VariationSeed = 8, VariationStrength = 0.5, MakeTileable = true,
        MaterialPreviewSize = 16, Pbr = true, NormalConvention = "directx", Resample = 3, JumpLength = 2,
        Stages = [new StageEntry { Name = "sr256", Steps = 9, Guidance = 1.5, AugmentationSigma = 0.2, SigmaMax = 0.75 }, new StageEntry { Name = "*", Steps = 4 }],
        NoTileShift = true,
    };

    /// <summary>One message of every type, every field set to something other than its default.</summary>
    public static TheoryData<BridgeMessage> Messages() =>
    [
        new Hello { RequestId = 1, ProtocolVersion = 3, MinProtocolVersion = 2, Software = "test 1.0", Token = "abc", Capabilities = ["preview"] },
        new Welcome
        {
            RequestId = 1, ProtocolVersion = 1, Software = "host", Capabilities = ["generate", "tiling"],
            Limits = new BridgeLimitsInfo { MaxFrameBytes = 1, MaxPromptLength = 2, MaxResolution = 3, MaxInputImageSide = 4, MaxQueueDepth = 5, MaxJobsPerClient = 6, MaxSteps = 7, MaxLegendEntries = 8, MaxPreviewSize = 9 },
            Model = new ModelInfo { Name = "m", Resolution = 64, DefaultSteps = 32, DefaultGuidance = 2.5, DefaultSampler = "heun" },
        },
        new ListRequest { RequestId = 2 },
        new ListReply
        {
            RequestId = 2, Models = [new ModelInfo { Name = "a", Resolution = 16 }], Samplers = ["heun", "euler"],
            Plugins = [new PluginSummary { Name = "p", Version = "1.2", Status = "Loaded" }],
        },
        FullRequest(),
        new Accepted { RequestId = 3, JobsAhead = 4 },
        new Progress { RequestId = 3, Stage = Stages.SuperResolution, Step = 5, Steps = 12, Sigma = 1.25, Preview = Image(2, 2) },
        new GenerateResult
        {
            RequestId = 3, Width = 2, Height = 2, Rgba = Image(2, 2).Rgba, Seed = long.MaxValue, ElapsedMilliseconds = 12.5,
            Settings = new GenerationSettings { Prompt = "p", Steps = 3, Guidance = 1.5, Sampler = "heun", Width = 2, Height = 2, Tiling = true, Model = "m" },
            Notes = ["n"], MaterialPreview = Image(4, 2),
            Maps = new MaterialMaps
            {
                Width = 2, Height = 2, Height16 = [1, 2, 3, 4, 5, 6, 7, 8], Normal = Image(2, 2), Roughness = Image(2, 2), Occlusion = Image(2, 2),
                NormalConvention = "directx", HeightSource = "h",
            },
        },
        new Cancel { RequestId = 3 },
        new Cancelled { RequestId = 3, WasRunning = true },
        new BridgeError { RequestId = 9, Code = ErrorCodes.Limit, Message = "too long" },
    ];

    [Theory]
    [MemberData(nameof(Messages))]
    public void EveryMessageRoundTrips(BridgeMessage message)
    {
        byte[] bytes = BridgeSerializer.ToBytes(message);
        var back = BridgeSerializer.TryRead(bytes, out string? problem);
        Assert.True(back is not null, problem);
        Assert.Equal(message.GetType(), back.GetType());
        Assert.Equal(message.RequestId, back.RequestId);
        // Field by field: the decoded message re-encodes to the same bytes, and its JSON view matches.
        Assert.Equal(bytes, BridgeSerializer.ToBytes(back));
        Assert.Equal(MessagePackSerializer.ConvertToJson(bytes), MessagePackSerializer.ConvertToJson(BridgeSerializer.ToBytes(back)));
        Assert.Contains(message.RequestId.ToString(), MessagePackSerializer.ConvertToJson(bytes));
    }

    [Fact]
    public void GenerateRequestKeepsEveryField()
    {
        var original = FullRequest();
        var back = (GenerateRequest)BridgeSerializer.TryRead(BridgeSerializer.ToBytes(original), out _)!;
        Assert.Equal((original.Prompt, original.Seed, original.Steps, original.Guidance, original.Width, original.Height, original.Sampler, original.Tiling, original.PreviewSize),
            (back.Prompt, back.Seed, back.Steps, back.Guidance, back.Width, back.Height, back.Sampler, back.Tiling, back.PreviewSize));
        Assert.Equal(original.StyleImage!.Rgba, back.StyleImage!.Rgba);
        Assert.Equal(original.Scribble!.Rgba, back.Scribble!.Rgba);
        Assert.Equal((0xFF0000, "bricks", 0.4), (back.Legend![0].Rgb, back.Legend[0].Phrase, back.Legend[0].Strength));
        Assert.Equal((original.TileAxes, original.Strength, original.VariationSeed, original.VariationStrength, original.MakeTileable, original.MaterialPreviewSize, original.Pbr, original.NormalConvention),
            (back.TileAxes, back.Strength, back.VariationSeed, back.VariationStrength, back.MakeTileable, back.MaterialPreviewSize, back.Pbr, back.NormalConvention));
        Assert.Equal((3, 2), (back.Resample, back.JumpLength));
        Assert.Equal(2, back.Stages!.Count);
        Assert.Equal(("sr256", (int?)9, (double?)1.5, (double?)0.2, (double?)0.75), (back.Stages[0].Name, back.Stages[0].Steps, back.Stages[0].Guidance, back.Stages[0].AugmentationSigma, back.Stages[0].SigmaMax));
        Assert.Equal(("*", (int?)4, (double?)null), (back.Stages[1].Name, back.Stages[1].Steps, back.Stages[1].Guidance));
        Assert.True(back.NoTileShift);
        Assert.Equal(original.InitImage!.Rgba, back.InitImage!.Rgba);
        Assert.Equal(original.Mask!.Rgba, back.Mask!.Rgba);
    }

    [Fact]
    public void AnOldClientsRequestReadsWithoutTheNewFieldsAndAResultKeepsTheOldLayoutFirst()
    {
        // A request as a client of the previous protocol wrote it: union tag 4, then keys 0 to 22.
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        var writer = new MessagePackWriter(buffer);
        writer.WriteArrayHeader(2);
        writer.Write(4);
        writer.WriteArrayHeader(23);
        writer.Write(7);              // 0 request id
        writer.Write("red bricks");   // 1 prompt
        for (int key = 2; key <= 22; key++)
        {
            if (key is 5 or 6 or 12 or 20 or 22) writer.Write(0);
            else if (key is 8 or 21) writer.Write(false);
            else if (key == 13) writer.Write(0.0);
            else writer.WriteNil();
        }
        writer.Flush();
        var old = (GenerateRequest)BridgeSerializer.TryRead(buffer.WrittenMemory, out string? problem)!;
        Assert.True(old is not null, problem);
        Assert.Equal((7, "red bricks", false, (string?)null), (old.RequestId, old.Prompt, old.Pbr, old.NormalConvention));

        // A result with maps: its first keys are where an old client reads them, the maps come after (skipped there).
        var result = new GenerateResult { RequestId = 3, Width = 1, Height = 1, Rgba = [1, 2, 3, 4], Seed = 5, Maps = new MaterialMaps { Width = 1, Height = 1 } };
        var reader = new MessagePackReader(BridgeSerializer.ToBytes(result));
        Assert.Equal(2, reader.ReadArrayHeader());
        Assert.Equal(7, reader.ReadInt32()); // GenerateResult's union tag
        Assert.Equal(10, reader.ReadArrayHeader());
        Assert.Equal(3, reader.ReadInt32());
        Assert.Equal(1, reader.ReadInt32());
    }

    [Fact]
    public void MalformedPayloadsAreRejectedNotThrown()
    {
        Assert.Null(BridgeSerializer.TryRead(new byte[] { 0xC0 }, out var nil)); // nil
        Assert.NotNull(nil);
        Assert.Null(BridgeSerializer.TryRead(new byte[] { 0x92, 0x63, 0x90 }, out _)); // unknown union tag 99
        var good = BridgeSerializer.ToBytes(new ListRequest { RequestId = 1 });
        Assert.Null(BridgeSerializer.TryRead(good.Append((byte)1).ToArray(), out var trailing));
        Assert.Contains("after its message", trailing);
        Assert.Null(BridgeSerializer.TryRead(good.AsMemory(0, good.Length - 1), out _)); // truncated
        // Nesting deeper than the limit: an array of arrays... as a Hello's capabilities.
        var deep = new List<byte> { 0x92, 0x00, 0x96, 0x01, 0x01, 0x01, 0xC0, 0xC0 };
        for (int i = 0; i < 100; i++) deep.Add(0x91);
        deep.Add(0x01);
        Assert.Null(BridgeSerializer.TryRead(deep.ToArray(), out _));
    }

    [Fact]
    public async Task FramesRoundTripAndBadLengthsAreRefused()
    {
        var writer = new FrameWriter();
        using var stream = new MemoryStream();
        var pixels = Enumerable.Range(0, 200_000).Select(i => (byte)(i * 31 + 7)).ToArray();
        var large = new GenerateResult { RequestId = 3, Rgba = pixels, Width = 1, Height = 50_000, Seed = 11, Settings = new GenerationSettings { Prompt = "after the pixels" } };
        var messages = new BridgeMessage[] { new ListRequest { RequestId = 1 }, large, new Cancel { RequestId = 2 } };
        foreach (var m in messages) await writer.WriteAsync(stream, m, default);
        stream.Position = 0;
        var reader = new FrameReader(stream, 1 << 20, bufferBytes: 64);
        foreach (var m in messages)
        {
            using var frame = await reader.ReadAsync(default);
            Assert.NotNull(frame);
            var back = BridgeSerializer.TryRead(frame.Payload, out _);
            Assert.Equal(m.RequestId, back!.RequestId);
            Assert.Equal(m.GetType(), back.GetType());
            // The large result's pixels were written from their own array (gather write): same bytes as one encode.
            Assert.Equal(BridgeSerializer.ToBytes(m), frame.Payload.ToArray());
        }
        Assert.Same(pixels, large.Rgba); // the writer puts the caller's array back
        Assert.Null(await reader.ReadAsync(default)); // clean end between frames

        await Assert.ThrowsAsync<FrameException>(async () => await new FrameReader(new MemoryStream([0, 0, 0, 0]), 100).ReadAsync(default));
        await Assert.ThrowsAsync<FrameException>(async () => await new FrameReader(new MemoryStream([101, 0, 0, 0]), 100).ReadAsync(default));
        await Assert.ThrowsAsync<FrameException>(async () => await new FrameReader(new MemoryStream([5, 0, 0, 0, 1, 2]), 100).ReadAsync(default));
        await Assert.ThrowsAsync<FrameException>(async () => await new FrameReader(new MemoryStream([5, 0]), 100).ReadAsync(default));
    }
}
