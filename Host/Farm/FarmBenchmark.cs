using System.Diagnostics;
using System.Globalization;
using EDiffI.Bridge;
using EDiffI.Bridge.Farm;
using EDiffI.Bridge.Protocol;
using NATS.Client.JetStream;
using NATS.Client.ObjectStore;

namespace EDiffI.Host.Farm;

/// <summary>
/// <c>farm bench</c>: what the farm costs against the local bridge for the same request. Latency: one job at a time,
/// end to end (submit to result in hand), through the bridge's socket and through the farm, alternating, medians
/// reported. Throughput: <c>count</c> jobs submitted at once to the farm, and the same count sent at once to the
/// bridge, timed until the last result is fetched. And the cost of one 1024² result in the result bucket, which a
/// GPU worker pays per job.
/// </summary>
public static class FarmBenchmark
{
    /// <summary>Runs the benchmark with <paramref name="request"/> (its seed counts up per job) and writes the table to <paramref name="write"/>.</summary>
    public static async Task RunAsync(FarmClient farm, BridgeEndpoint bridgeEndpoint, GenerateRequest request, int count, Action<string> write,
        CancellationToken cancellationToken)
    {
        using var bridge = await BridgeClient.ConnectAsync(bridgeEndpoint, cancellationToken).ConfigureAwait(false);
        long seed = request.Seed ?? 1;
        GenerateRequest Next() => new()
        {
            Prompt = request.Prompt, Seed = seed++, Steps = request.Steps, Guidance = request.Guidance, Width = request.Width, Height = request.Height,
            Sampler = request.Sampler, TileAxes = request.TileAxes,
        };

        // One warm-up job each, so that neither side pays for first-use costs in the numbers.
        await bridge.GenerateAsync(Next(), cancellationToken: cancellationToken).ConfigureAwait(false);
        await farm.GenerateAsync(Next(), cancellationToken: cancellationToken).ConfigureAwait(false);

        int rounds = Math.Min(count, 10);
        var bridgeMs = new List<double>();
        var farmMs = new List<double>();
        var runMs = new List<double>();
        // What each path adds to the job's own run time (the host's ElapsedMilliseconds): robust to how long each job ran.
        var bridgeAdded = new List<double>();
        var farmAdded = new List<double>();
        for (int i = 0; i < rounds; i++)
        {
            var clock = Stopwatch.StartNew();
            var local = await bridge.GenerateAsync(Next(), cancellationToken: cancellationToken).ConfigureAwait(false);
            bridgeMs.Add(clock.Elapsed.TotalMilliseconds);
            bridgeAdded.Add(clock.Elapsed.TotalMilliseconds - local.ElapsedMilliseconds);
            runMs.Add(local.ElapsedMilliseconds);
            clock.Restart();
            var remote = await farm.GenerateAsync(Next(), cancellationToken: cancellationToken).ConfigureAwait(false);
            farmMs.Add(clock.Elapsed.TotalMilliseconds);
            farmAdded.Add(clock.Elapsed.TotalMilliseconds - remote.ElapsedMilliseconds);
        }

        var all = Stopwatch.StartNew();
        var jobs = new List<string>();
        for (int i = 0; i < count; i++) jobs.Add(await farm.SubmitAsync(Next(), cancellationToken: cancellationToken).ConfigureAwait(false));
        var finals = await Task.WhenAll(jobs.Select(id => farm.WatchAsync(id, cancellationToken: cancellationToken))).ConfigureAwait(false);
        foreach (var id in jobs) await farm.GetResultAsync(id, cancellationToken).ConfigureAwait(false);
        double farmSeconds = all.Elapsed.TotalSeconds;
        var workers = finals.Where(f => f.Status == FarmJobStatus.Done).GroupBy(f => f.Worker).ToDictionary(g => g.Key ?? "?", g => g.Count());

        all.Restart();
        await Task.WhenAll(Enumerable.Range(0, count).Select(_ => bridge.GenerateAsync(Next(), cancellationToken: cancellationToken))).ConfigureAwait(false);
        double bridgeSeconds = all.Elapsed.TotalSeconds;

        var (putMs, getMs, bytes) = await ResultStoreAsync(farm, cancellationToken).ConfigureAwait(false);

        string F(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
        write(F($"request: '{request.Prompt}', {request.Steps?.ToString(CultureInfo.InvariantCulture) ?? "default"} steps, size {(request.Width == 0 ? "default" : request.Width.ToString(CultureInfo.InvariantCulture))}"));
        write(F($"latency, one job at a time ({rounds} each, median): bridge {Median(bridgeMs):0.0} ms, farm {Median(farmMs):0.0} ms end to end (the job itself ran {Median(runMs):0.0} ms)"));
        write(F($"added to the job's run time (median): bridge {Median(bridgeAdded):0.0} ms, farm {Median(farmAdded):0.0} ms, so the farm adds {Median(farmAdded) - Median(bridgeAdded):0.0} ms"));
        write(F($"throughput, {count} jobs at once: farm {count / farmSeconds:0.00} jobs/s over {workers.Count} workers ({string.Join(", ", workers.Select(w => $"{w.Key}: {w.Value}"))}), bridge (one host) {count / bridgeSeconds:0.00} jobs/s"));
        write(F($"result store, one 1024² RGBA8 result ({bytes / 1048576.0:0.0} MiB, median of 5): put {putMs:0.0} ms, get {getMs:0.0} ms"));
        int notDone = finals.Count(f => f.Status != FarmJobStatus.Done);
        if (notDone > 0) write($"{notDone} farm jobs did not finish: {string.Join("; ", finals.Where(f => f.Status != FarmJobStatus.Done).Select(f => f.ToString()).Distinct())}");
    }

    // What a GPU worker's result costs the farm: a 1024² RGBA8 GenerateResult stored in and read back from the result bucket.
    private static async Task<(double PutMs, double GetMs, int Bytes)> ResultStoreAsync(FarmClient farm, CancellationToken cancellationToken)
    {
        var store = await new NatsObjContext(new NatsJSContext(farm.Connection)).GetObjectStoreAsync(FarmNames.ResultBucket, cancellationToken).ConfigureAwait(false);
        var rgba = new byte[1024 * 1024 * 4];
        new Random(1).NextBytes(rgba); // incompressible, like a texture's low bits
        byte[] result = BridgeSerializer.ToBytes(new GenerateResult { Width = 1024, Height = 1024, Rgba = rgba });
        var put = new List<double>();
        var get = new List<double>();
        for (int i = 0; i < 5; i++)
        {
            string name = "bench-" + FarmNames.NewJobId();
            var clock = Stopwatch.StartNew();
            await store.PutAsync(name, result, cancellationToken).ConfigureAwait(false);
            put.Add(clock.Elapsed.TotalMilliseconds);
            clock.Restart();
            byte[] back = await store.GetBytesAsync(name, cancellationToken).ConfigureAwait(false);
            get.Add(clock.Elapsed.TotalMilliseconds);
            if (back.Length != result.Length) throw new InvalidOperationException($"the result store gave back {back.Length} of {result.Length} bytes");
            await store.DeleteAsync(name, cancellationToken).ConfigureAwait(false);
        }
        return (Median(put), Median(get), result.Length);
    }

    private static double Median(List<double> values)
    {
        var sorted = values.OrderBy(v => v).ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }
}
