using System.Buffers.Binary;
using System.Diagnostics;
using EDiffI.Bridge.Protocol;
using EDiffI.Host.Bridge;
using Xunit.Abstractions;

namespace EDiffI.Bridge.Tests;

public class FuzzTests(ITestOutputHelper output)
{
    private const int FrameCount = 100_000;
    private const int Connections = 4;
    private const int Batch = 500;

    private static readonly byte[][] Corpus =
    [
        BridgeSerializer.ToBytes(new Hello { RequestId = 1, Software = "fuzz", Token = "t", Capabilities = ["preview"] }),
        BridgeSerializer.ToBytes(new ListRequest { RequestId = 2 }),
        BridgeSerializer.ToBytes(new GenerateRequest
        {
            RequestId = 3, Prompt = "red bricks", Seed = 5, Steps = 3, Guidance = 2, Width = 8, Height = 8, Sampler = "fake", PreviewSize = 4,
            StyleImage = new ImageData { Width = 1, Height = 1, Rgba = [1, 2, 3, 4] }, Legend = [new LegendEntry { Rgb = 5, Phrase = "bricks" }],
        }),
        BridgeSerializer.ToBytes(new Cancel { RequestId = 4 }),
        BridgeSerializer.ToBytes(new Progress { RequestId = 5, Step = 1, Steps = 2, Sigma = 3 }),
        BridgeSerializer.ToBytes(new BridgeError { RequestId = 6, Code = "x", Message = "y" }),
    ];

    /// <summary>
    /// 100,000 random and mutated frames from 4 pipelined connections, plus framing attacks on
    /// connections of their own, while a well-behaved client keeps generating: the host never
    /// crashes or hangs, answers every bad frame with an error (or, where the framing breaks, an error
    /// and a closed connection), and the good client's results stay what they were before.
    /// </summary>
    [Fact]
    public async Task HostSurvivesBadFramesWhileAGoodClientGenerates()
    {
        var executor = new FakeExecutor { StepDelay = TimeSpan.FromMilliseconds(1) };
        var options = new BridgeOptions { MaxFrameBytes = 64 * 1024 };
        await using var host = new TestServer(executor, options);
        using var good = await host.ConnectAsync();
        var prompts = Enumerable.Range(0, 5).Select(i => $"good texture {i}").ToArray();
        var reference = new List<byte[]>();
        foreach (var (p, i) in prompts.Select((p, i) => (p, i))) reference.Add((await good.GenerateAsync(new GenerateRequest { Prompt = p, Seed = i })).Rgba);

        using var stop = new CancellationTokenSource();
        int goodResults = 0;
        var goodLoop = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
                for (int i = 0; i < prompts.Length; i++)
                {
                    var r = await good.GenerateAsync(new GenerateRequest { Prompt = prompts[i], Seed = i });
                    Assert.Equal(reference[i], r.Rgba);
                    Interlocked.Increment(ref goodResults);
                }
        });

        var clock = Stopwatch.StartNew();
        var fuzzers = Enumerable.Range(0, Connections).Select(c => Task.Run(() => FuzzConnectionAsync(host.SocketPath, seed: c, FrameCount / Connections))).ToList();
        var attacks = Task.Run(() => FramingAttacksAsync(host.SocketPath, options.MaxFrameBytes));
        var counts = await Task.WhenAll([.. fuzzers, attacks]).WaitAsync(TimeSpan.FromMinutes(2)); // no hang
        int answered = counts.Sum();
        stop.Cancel();
        await goodLoop.WaitAsync(TimeSpan.FromSeconds(30));
        output.WriteLine($"{answered} bad frames answered in {clock.Elapsed.TotalSeconds:0.0} s; the good client got {goodResults} identical results meanwhile");

        Assert.True(answered >= FrameCount, $"only {answered} bad frames were sent and answered");
        Assert.True(goodResults >= 5, $"the good client got only {goodResults} results during the fuzzing");
        // The host still serves newcomers, and every fuzz connection is gone.
        using var late = await host.ConnectAsync();
        Assert.Equal(reference[0], (await late.GenerateAsync(new GenerateRequest { Prompt = prompts[0], Seed = 0 })).Rgba);
        // The host closes a fuzz connection once its client left; on a loaded 2-core machine that can take a while.
        await host.Server.WhenConnectionsAtMostAsync(2).WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(2, host.Server.ConnectionCount);
    }

    // Sends `count` bad frames in pipelined batches, each batch followed by a List request as a barrier;
    // every frame of a batch must be answered by exactly one error before the barrier's reply.
    private static async Task<int> FuzzConnectionAsync(string socket, int seed, int count)
    {
        var random = new Random(seed);
        using var client = await RawClient.ConnectAsync(socket);
        int answered = 0;
        var buffer = new MemoryStream();
        for (int sent = 0; sent < count; sent += Batch)
        {
            buffer.SetLength(0);
            int n = Math.Min(Batch, count - sent);
            for (int i = 0; i < n; i++) AppendFrame(buffer, BadPayload(random));
            int barrier = 1_000_000 + sent;
            AppendFrame(buffer, BridgeSerializer.ToBytes(new ListRequest { RequestId = barrier }));
            var send = client.Stream.WriteAsync(buffer.GetBuffer().AsMemory(0, (int)buffer.Length)).AsTask();
            int errors = 0;
            while (true)
            {
                var reply = await client.ReceiveAsync();
                Assert.NotNull(reply); // the connection stays open: these frames keep the framing intact
                if (reply is ListReply && reply.RequestId == barrier) break;
                var error = Assert.IsType<BridgeError>(reply);
                Assert.False(string.IsNullOrWhiteSpace(error.Message));
                errors++;
            }
            await send;
            Assert.Equal(n, errors);
            answered += errors;
        }
        return answered;
    }

    // A payload the host must refuse with an error: undecodable, or a message no client may send
    // (a mutated ListRequest or GenerateRequest that still decodes could be valid, so those are redrawn).
    private static byte[] BadPayload(Random random)
    {
        while (true)
        {
            byte[] payload = random.Next(4) == 0 ? RandomBytes(random) : Mutate(Corpus[random.Next(Corpus.Length)], random);
            if (payload.Length == 0) continue;
            var decoded = BridgeSerializer.TryRead(payload, out _);
            if (decoded is ListRequest or GenerateRequest) continue;
            if (decoded is Cancel { RequestId: >= 1_000_000 }) continue; // never collide with a barrier id
            return payload;
        }
    }

    private static byte[] RandomBytes(Random random)
    {
        var bytes = new byte[random.Next(1, 48)];
        random.NextBytes(bytes);
        return bytes;
    }

    private static byte[] Mutate(byte[] original, Random random)
    {
        var bytes = new List<byte>(original);
        int edits = random.Next(1, 4);
        for (int e = 0; e < edits && bytes.Count > 0; e++)
        {
            int at = random.Next(bytes.Count);
            switch (random.Next(6))
            {
                case 0: bytes[at] ^= (byte)(1 << random.Next(8)); break;
                case 1: bytes[at] = (byte)random.Next(256); break;
                case 2: bytes.RemoveRange(at, random.Next(1, bytes.Count - at + 1)); break;
                case 3: bytes.Insert(at, (byte)random.Next(256)); break;
                case 4: bytes[at] = new byte[] { 0xC0, 0xC1, 0xDC, 0xDD, 0xDE, 0xDF, 0xC6, 0xDB, 0xFF, 0x7F }[random.Next(10)]; break;
                default: bytes.InsertRange(at, bytes.GetRange(at, Math.Min(8, bytes.Count - at))); break;
            }
        }
        return [.. bytes];
    }

    private static void AppendFrame(MemoryStream stream, byte[] payload)
    {
        Span<byte> header = stackalloc byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(header, payload.Length);
        stream.Write(header);
        stream.Write(payload);
    }

    // Frames that break the framing or the handshake, each on a connection of its own.
    private static async Task<int> FramingAttacksAsync(string socket, int maxFrameBytes)
    {
        var random = new Random(99);
        int answered = 0;
        for (int i = 0; i < 200; i++)
        {
            int kind = i % 5;
            using var client = await RawClient.ConnectAsync(socket, hello: kind != 4);
            var stream = client.Stream;
            switch (kind)
            {
                case 0: await stream.WriteAsync(new byte[] { 0, 0, 0, 0 }); break; // length 0
                case 1: await stream.WriteAsync(BitConverter.GetBytes(maxFrameBytes + 1 + random.Next(1000))); break; // over the limit
                case 2: await stream.WriteAsync(new byte[] { 0xFF, 0xFF, 0xFF, 0xFF }); break; // 4 GiB
                case 3: // a frame cut short, then the client leaves
                    await stream.WriteAsync(BitConverter.GetBytes(100));
                    await stream.WriteAsync(new byte[10]);
                    client.Dispose();
                    answered++;
                    continue;
                default: await client.SendFrameAsync(RandomBytes(random)); break; // garbage instead of a Hello
            }
            var error = Assert.IsType<BridgeError>(await client.ReceiveAsync());
            Assert.Equal(kind == 4 ? ErrorCodes.Handshake : ErrorCodes.BadFrame, error.Code);
            Assert.Null(await client.ReceiveAsync()); // then the host closes
            answered++;
        }
        return answered;
    }
}
