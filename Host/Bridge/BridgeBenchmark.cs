using System.Diagnostics;
using System.Net.Sockets;
using EDiffI.Bridge;
using EDiffI.Bridge.Protocol;

namespace EDiffI.Host.Bridge;

/// <summary>
/// <c>serve --bench</c>: the time to deliver a 1024×1024 RGBA8 result held in host memory to a
/// client through the bridge (request, queue, serialization, frame, deserialization), side by side
/// with a raw copy of the same bytes over a Unix socket in the same process and run; and the
/// handshake's latency (connect, Hello, Welcome).
/// </summary>
public static class BridgeBenchmark
{
    private const int Side = 1024;

    /// <summary>Runs the benchmark with <paramref name="iterations"/> measured repetitions of each case; writes a Markdown table.</summary>
    public static async Task RunAsync(int iterations, BridgeOptions options, Action<string> write, CancellationToken cancellationToken)
    {
        var folder = Directory.CreateTempSubdirectory("ediffi-bench-"); // 0700 on Unix
        try
        {
            var image = new byte[Side * Side * 4];
            new Random(1).NextBytes(image);
            int warmup = Math.Max(5, iterations / 10);

            await using var server = new BridgeServer(new MemoryImageExecutor(image), options);
            string socket = Path.Combine(folder.FullName, "b.sock");
            server.ListenUnix(socket);
            var endpoint = BridgeEndpoint.Unix(socket);

            var handshake = await TimeAsync(warmup, iterations, async () =>
            {
                using var c = await BridgeClient.ConnectAsync(endpoint, cancellationToken).ConfigureAwait(false);
            }).ConfigureAwait(false);
            Timing rawConnect;
            // A plain listener: each raw connect is timed until the listener has accepted it, as a handshake
            // is. (A background accept loop let connects outrun it and overflow the backlog under load.)
            using (var plain = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
            {
                string plainPath = Path.Combine(folder.FullName, "plain.sock");
                plain.Bind(new UnixDomainSocketEndPoint(plainPath));
                plain.Listen(16);
                rawConnect = await TimeAsync(warmup, iterations, async () =>
                {
                    var accept = plain.AcceptAsync(cancellationToken);
                    using var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                    await s.ConnectAsync(new UnixDomainSocketEndPoint(plainPath), cancellationToken).ConfigureAwait(false);
                    using var accepted = await accept.ConfigureAwait(false);
                }).ConfigureAwait(false);
            }

            using var client = await BridgeClient.ConnectAsync(endpoint, cancellationToken).ConfigureAwait(false);
            var request = new GenerateRequest { Prompt = "bench", Seed = 1 };
            // The cases run interleaved, one repetition of each in turn, so that load from elsewhere on the
            // machine falls on all of them alike. As the raw copy reads into one buffer it keeps, the first
            // bridge case hands each result's pixels back for reuse; the second keeps every result.
            await using var rawCopy = await RawCopy.StartAsync(Path.Combine(folder.FullName, "raw.sock"), image, cancellationToken).ConfigureAwait(false);
            var tinyRequest = new GenerateRequest { Prompt = "bench", Seed = 1, Width = 1, Height = 1 };
            // The first case hands its pixels back only just before its next request: handed back at once, they
            // would be taken by the second case's result (which then measured reuse while the first measured
            // fresh arrays, the opposite of their labels).
            byte[]? handedBack = null;
            var timings = await TimeInterleavedAsync(warmup, iterations,
                async () =>
                {
                    ImageBuffers.Return(handedBack);
                    var result = await client.GenerateAsync(request, cancellationToken: cancellationToken).ConfigureAwait(false);
                    if (result.Rgba.Length != image.Length) throw new InvalidOperationException("the bridge delivered a wrong-sized image");
                    handedBack = result.Rgba;
                },
                async () =>
                {
                    var result = await client.GenerateAsync(request, cancellationToken: cancellationToken).ConfigureAwait(false);
                    if (result.Rgba.Length != image.Length) throw new InvalidOperationException("the bridge delivered a wrong-sized image");
                },
                () => rawCopy.CopyAsync(cancellationToken),
                () => client.GenerateAsync(tinyRequest, cancellationToken: cancellationToken),
                () => client.ListAsync(cancellationToken)).ConfigureAwait(false);
            var (bridge, bridgeFresh, raw, tiny, list) = (timings[0], timings[1], timings[2], timings[3], timings[4]);

            var message = new MemoryImageExecutor(image).Execute(request, _ => { }, cancellationToken);
            var frames = new FrameWriter();
            var encode = await TimeAsync(warmup, iterations, () => { frames.Encode(message); return Task.CompletedTask; }).ConfigureAwait(false);
            var encoded = frames.Encode(message).Slice(4).ToArray();
            var decode = await TimeAsync(warmup, iterations, () =>
            {
                ImageBuffers.Return((BridgeSerializer.TryRead(encoded, out _) as GenerateResult)?.Rgba);
                return Task.CompletedTask;
            }).ConfigureAwait(false);

            double mib = image.Length / (1024.0 * 1024.0);
            write($"{Side}×{Side} RGBA8 ({mib:0} MiB), {iterations} measured repetitions after {warmup} warm-up, client and host in one process, .NET {Environment.Version}, {Environment.ProcessorCount} cores");
            write("");
            write("| Case | p50 (ms) | p99 (ms) | mean (ms) | throughput (MiB/s) |");
            write("| --- | ---: | ---: | ---: | ---: |");
            write(Row("bridge: generate request → result (4 MiB), pixels handed back", bridge, mib));
            write(Row("bridge, each result kept (a fresh 4 MiB array each)", bridgeFresh, mib));
            write(Row("raw Unix-socket copy of the same bytes", raw, mib));
            write(Row("bridge: generate request → 1×1 result (fixed costs)", tiny, 0));
            write(Row("bridge: list request → reply (no queue)", list, 0));
            write(Row("of which: host encodes the result frame (in memory)", encode, mib));
            write(Row("of which: client decodes the result frame (in memory)", decode, mib));
            write(Row("handshake: connect + Hello/Welcome", handshake, 0));
            write(Row("raw Unix-socket connect and accept", rawConnect, 0));
            write("");
            write($"bridge / raw: p50 {bridge.P50 / raw.P50:0.00}×, p99 {bridge.P99 / raw.P99:0.00}×, mean {bridge.Mean / raw.Mean:0.00}× (goal: at most 1.5×)");
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    private static string Row(string name, Timing t, double mib) =>
        $"| {name} | {t.P50:0.000} | {t.P99:0.000} | {t.Mean:0.000} | {(mib > 0 ? (mib / (t.Mean / 1000)).ToString("0") : "–")} |";

    private static async Task<Timing> TimeAsync(int warmup, int iterations, Func<Task> body)
    {
        for (int i = 0; i < warmup; i++) await body().ConfigureAwait(false);
        var samples = new double[iterations];
        for (int i = 0; i < iterations; i++)
        {
            long start = Stopwatch.GetTimestamp();
            await body().ConfigureAwait(false);
            samples[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }
        return Timing.Of(samples);
    }

    private static async Task<Timing[]> TimeInterleavedAsync(int warmup, int iterations, params Func<Task>[] bodies)
    {
        var samples = new double[bodies.Length][];
        for (int b = 0; b < bodies.Length; b++) samples[b] = new double[iterations];
        for (int i = -warmup; i < iterations; i++)
        {
            for (int b = 0; b < bodies.Length; b++)
            {
                long start = Stopwatch.GetTimestamp();
                await bodies[b]().ConfigureAwait(false);
                if (i >= 0) samples[b][i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            }
        }
        return [.. samples.Select(Timing.Of)];
    }

    // The floor: on request, the host side writes the same bytes to a Unix socket; the client reads them into a buffer it keeps.
    private sealed class RawCopy : IAsyncDisposable
    {
        private readonly Socket _listener, _client, _served;
        private readonly Task _serving;
        private readonly byte[] _received;
        private readonly byte[] _one = new byte[1];

        private RawCopy(Socket listener, Socket client, Socket served, byte[] image)
        {
            (_listener, _client, _served) = (listener, client, served);
            _received = new byte[image.Length];
            _serving = Task.Run(async () =>
            {
                var ask = new byte[1];
                while (await served.ReceiveAsync(ask, SocketFlags.None).ConfigureAwait(false) == 1)
                    await served.SendAsync(image, SocketFlags.None).ConfigureAwait(false);
            });
        }

        public static async Task<RawCopy> StartAsync(string path, byte[] image, CancellationToken cancellationToken)
        {
            var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            listener.Bind(new UnixDomainSocketEndPoint(path));
            listener.Listen(1);
            var client = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            await client.ConnectAsync(new UnixDomainSocketEndPoint(path), cancellationToken).ConfigureAwait(false);
            var served = await listener.AcceptAsync(cancellationToken).ConfigureAwait(false);
            return new RawCopy(listener, client, served, image);
        }

        public async Task CopyAsync(CancellationToken cancellationToken)
        {
            await _client.SendAsync(_one, SocketFlags.None, cancellationToken).ConfigureAwait(false);
            int have = 0;
            while (have < _received.Length)
                have += await _client.ReceiveAsync(_received.AsMemory(have), SocketFlags.None, cancellationToken).ConfigureAwait(false);
        }

        public async ValueTask DisposeAsync()
        {
            _client.Shutdown(SocketShutdown.Both);
            await _serving.ConfigureAwait(false);
            _client.Dispose();
            _served.Dispose();
            _listener.Dispose();
        }
    }

    private readonly record struct Timing(double P50, double P99, double Mean)
    {
        public static Timing Of(double[] samples)
        {
            Array.Sort(samples);
            double Quantile(double q) => samples[Math.Min(samples.Length - 1, (int)Math.Ceiling(q * samples.Length) - 1)];
            return new Timing(Quantile(0.5), Quantile(0.99), samples.Average());
        }
    }

    // Answers every request with the same image from memory: what is measured is delivery alone.
    private sealed class MemoryImageExecutor(byte[] image) : IJobExecutor
    {
        public ModelInfo Model { get; } = new() { Name = "memory", Resolution = Side, DefaultSteps = 1, DefaultGuidance = 1, DefaultSampler = "none" };
        public IReadOnlyList<string> Samplers { get; } = ["none"];
        public IReadOnlyCollection<string> Capabilities { get; } = [EDiffI.Bridge.Protocol.Capabilities.Generate];
        public BridgeError? Check(GenerateRequest request) => null;

        private readonly byte[] _pixel = [1, 2, 3, 255];

        // Width 1 asks for a 1×1 image: the fixed costs of a job without the bulk transfer.
        public GenerateResult Execute(GenerateRequest request, Action<Progress> progress, CancellationToken cancellationToken) => new()
        {
            RequestId = request.RequestId, Width = request.Width == 1 ? 1 : Side, Height = request.Width == 1 ? 1 : Side,
            Rgba = request.Width == 1 ? _pixel : image, Seed = request.Seed ?? 0,
            Settings = new GenerationSettings { Prompt = request.Prompt, Steps = 1, Guidance = 1, Sampler = "none", Width = Side, Height = Side, Model = Model.Name },
        };
    }
}
