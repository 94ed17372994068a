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
            var rawConnect = await TimeAsync(warmup, iterations, async () =>
            {
                using var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                await s.ConnectAsync(new UnixDomainSocketEndPoint(socket), cancellationToken).ConfigureAwait(false);
            }).ConfigureAwait(false);

            using var client = await BridgeClient.ConnectAsync(endpoint, cancellationToken).ConfigureAwait(false);
            var request = new GenerateRequest { Prompt = "bench", Seed = 1 };
            var bridge = await TimeAsync(warmup, iterations, async () =>
            {
                var result = await client.GenerateAsync(request, cancellationToken: cancellationToken).ConfigureAwait(false);
                if (result.Rgba.Length != image.Length) throw new InvalidOperationException("the bridge delivered a wrong-sized image");
            }).ConfigureAwait(false);

            var raw = await RawCopyAsync(Path.Combine(folder.FullName, "raw.sock"), image, warmup, iterations, cancellationToken).ConfigureAwait(false);

            double mib = image.Length / (1024.0 * 1024.0);
            write($"{Side}×{Side} RGBA8 ({mib:0} MiB), {iterations} measured repetitions after {warmup} warm-up, client and host in one process, .NET {Environment.Version}, {Environment.ProcessorCount} cores");
            write("");
            write("| Case | p50 (ms) | p99 (ms) | mean (ms) | throughput (MiB/s) |");
            write("| --- | ---: | ---: | ---: | ---: |");
            write(Row("bridge: generate request → result (4 MiB)", bridge, mib));
            write(Row("raw Unix-socket copy of the same bytes", raw, mib));
            write(Row("handshake: connect + Hello/Welcome", handshake, 0));
            write(Row("raw Unix-socket connect", rawConnect, 0));
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

    // The floor: the host writes the same bytes to a Unix socket on request, the client reads them into a buffer it keeps.
    private static async Task<Timing> RawCopyAsync(string path, byte[] image, int warmup, int iterations, CancellationToken cancellationToken)
    {
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen(1);
        using var client = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await client.ConnectAsync(new UnixDomainSocketEndPoint(path), cancellationToken).ConfigureAwait(false);
        using var served = await listener.AcceptAsync(cancellationToken).ConfigureAwait(false);
        var serving = Task.Run(async () =>
        {
            var ask = new byte[1];
            while (await served.ReceiveAsync(ask, SocketFlags.None, cancellationToken).ConfigureAwait(false) == 1)
                await served.SendAsync(image, SocketFlags.None, cancellationToken).ConfigureAwait(false);
        }, cancellationToken);
        var received = new byte[image.Length];
        var one = new byte[1];
        var timing = await TimeAsync(warmup, iterations, async () =>
        {
            await client.SendAsync(one, SocketFlags.None, cancellationToken).ConfigureAwait(false);
            int have = 0;
            while (have < received.Length)
                have += await client.ReceiveAsync(received.AsMemory(have), SocketFlags.None, cancellationToken).ConfigureAwait(false);
        }).ConfigureAwait(false);
        client.Shutdown(SocketShutdown.Both);
        await serving.ConfigureAwait(false);
        return timing;
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

        public GenerateResult Execute(GenerateRequest request, Action<Progress> progress, CancellationToken cancellationToken) => new()
        {
            RequestId = request.RequestId, Width = Side, Height = Side, Rgba = image, Seed = request.Seed ?? 0,
            Settings = new GenerationSettings { Prompt = request.Prompt, Steps = 1, Guidance = 1, Sampler = "none", Width = Side, Height = Side, Model = Model.Name },
        };
    }
}
