using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using EDiffI.Bridge;
using EDiffI.Bridge.Farm;
using EDiffI.Bridge.Protocol;
using EDiffI.Host.Bridge;
using EDiffI.Host.Farm;
using EDiffI.Host.Runtime;
using Microsoft.Extensions.Configuration;
using SkiaSharp;
using Spectre.Console.Cli;

namespace EDiffI.Host.Commands;

/// <summary>Settings of <c>farm</c>.</summary>
public sealed class FarmSettings : CommandSettings
{
    [CommandArgument(0, "<ACTION>")]
    [Description("submit, status, get, cancel or bench")]
    public string Action { get; init; } = "";

    [CommandArgument(1, "[JOB]")]
    [Description("the job id (status, get, cancel; submit takes it as the id to use)")]
    public string? Job { get; init; }

    [CommandOption("--farm <URL>")]
    [Description("the farm's NATS server (default: configuration Farm:Url, else nats://127.0.0.1:4222); credentials and TLS from the section Farm")]
    public string? Farm { get; init; }

    [CommandOption("-p|--prompt <TEXT>")]
    [Description("submit: what to draw")]
    public string? Prompt { get; init; }

    [CommandOption("--seed <SEED>")]
    [Description("submit: the seed (with --count, the first of consecutive seeds); default random")]
    public long? Seed { get; init; }

    [CommandOption("--steps <N>")]
    [Description("submit: sampler steps (default: the model's)")]
    public int? Steps { get; init; }

    [CommandOption("--guidance <W>")]
    [Description("submit: classifier-free guidance weight (default: the model's)")]
    public double? Guidance { get; init; }

    [CommandOption("--size <N>")]
    [Description("submit: output side in pixels (default: the model's)")]
    public int Size { get; init; }

    [CommandOption("--sampler <NAME>")]
    [Description("submit: sampler name (default: the worker's)")]
    public string? Sampler { get; init; }

    [CommandOption("--tile <AXES>")]
    [Description("submit: x, y or xy for a seamlessly tiling texture")]
    public string? Tile { get; init; }

    [CommandOption("--count <N>")]
    [Description("submit: this many jobs, seeds counting up from --seed (default 1)")]
    public int Count { get; init; } = 1;

    [CommandOption("--wait")]
    [Description("submit: follow the jobs to the end, print their progress and write their images (--out)")]
    public bool Wait { get; init; }

    [CommandOption("-o|--out <FILE>")]
    [Description("get (and submit --wait): the PNG to write; with several jobs the job id is added to the name")]
    public string? Out { get; init; }

    [CommandOption("--socket <PATH>")]
    [Description("bench: the local bridge's socket to compare with (default: the per-user socket)")]
    public string? Socket { get; init; }
}

/// <summary><c>farm</c>: submit jobs to a texture farm, follow them, fetch and cancel them.</summary>
public sealed class FarmCommand(IConfiguration configuration) : AsyncCommand<FarmSettings>
{
    /// <inheritdoc />
    public override async Task<int> ExecuteAsync(CommandContext context, FarmSettings s, CancellationToken cancellationToken)
    {
        using var cancel = new ConsoleCancellation();
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancel.Token, cancellationToken);
        var token = linked.Token;
        string action = s.Action.ToLowerInvariant();
        if (action is not ("submit" or "status" or "get" or "cancel" or "bench"))
            throw new UserException($"Unknown farm action '{s.Action}'; use submit, status, get, cancel or bench.");
        if (action is "status" or "get" or "cancel" && s.Job is null) throw new UserException($"farm {action} needs a job id: farm {action} <JOB>.");
        if (action == "get" && s.Out is null) throw new UserException("farm get needs --out <FILE>.");
        if (s.Count is < 1 or > 10_000) throw new UserException($"--count must be between 1 and 10000 (got {s.Count}).");

        await using var client = await Connect(configuration, s.Farm, token).ConfigureAwait(false);
        switch (action)
        {
            case "status":
                var state = await client.GetStateAsync(s.Job!, token).ConfigureAwait(false)
                    ?? throw new UserException($"The farm knows no job '{s.Job}' (never submitted, or older than the retention time).");
                Console.Out.WriteLine($"{s.Job}: {state}");
                return 0;
            case "cancel":
                bool cancelled = await client.CancelAsync(s.Job!, token).ConfigureAwait(false);
                Console.Out.WriteLine(cancelled ? $"{s.Job}: cancelled" : $"{s.Job}: not cancelled ({(await client.GetStateAsync(s.Job!, token).ConfigureAwait(false))?.ToString() ?? "unknown job"})");
                return cancelled ? 0 : 1;
            case "get":
                WriteResult(await client.GetResultAsync(s.Job!, token).ConfigureAwait(false), s.Out!);
                return 0;
            case "bench":
                await FarmBenchmark.RunAsync(client, s.Socket is null ? BridgeEndpoint.Default() : BridgeEndpoint.Unix(s.Socket), Request(s, 0),
                    Math.Max(s.Count, 2), Console.Out.WriteLine, token).ConfigureAwait(false);
                return 0;
            default:
                return await SubmitAsync(client, s, token).ConfigureAwait(false);
        }
    }

    private static async Task<int> SubmitAsync(FarmClient client, FarmSettings s, CancellationToken token)
    {
        if (string.IsNullOrWhiteSpace(s.Prompt)) throw new UserException("farm submit needs --prompt.");
        if (s.Job is not null && s.Count > 1) throw new UserException("A job id names one job; leave it out with --count.");
        var ids = new List<string>();
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < s.Count; i++)
        {
            string id = await client.SubmitAsync(Request(s, i), s.Job, token).ConfigureAwait(false);
            ids.Add(id);
            Console.Out.WriteLine($"submitted {id}");
        }
        if (!s.Wait) return 0;
        var finals = await Task.WhenAll(ids.Select(id => client.WatchAsync(id, p => Console.Out.WriteLine($"{id} {p.Stage} {p.Step + 1}/{p.Steps} σ={p.Sigma:0.000}"),
            st => Console.Out.WriteLine($"{id}: {st}"), token))).ConfigureAwait(false);
        double seconds = clock.Elapsed.TotalSeconds;
        int failed = 0;
        foreach (var (id, final) in ids.Zip(finals))
        {
            if (final.Status != FarmJobStatus.Done)
            {
                failed++;
                continue;
            }
            var result = await client.GetResultAsync(id, token).ConfigureAwait(false);
            if (s.Out is not null) WriteResult(result, ids.Count == 1 ? s.Out : Path.ChangeExtension(s.Out, null) + "_" + id + Path.GetExtension(s.Out));
        }
        Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{ids.Count - failed} of {ids.Count} done in {seconds:0.00} s ({(ids.Count - failed) / seconds:0.00} jobs/s)"));
        return failed == 0 ? 0 : 1;
    }

    private static GenerateRequest Request(FarmSettings s, int index) => new()
    {
        Prompt = s.Prompt ?? "",
        Seed = s.Seed is { } seed ? seed + index : null,
        Steps = s.Steps,
        Guidance = s.Guidance,
        Width = s.Size,
        Height = s.Size,
        Sampler = s.Sampler,
        TileAxes = s.Tile,
    };

    private static void WriteResult(GenerateResult result, string path)
    {
        var info = new SKImageInfo(result.Width, result.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        using var bitmap = new SKBitmap();
        var pixels = System.Runtime.InteropServices.GCHandle.Alloc(result.Rgba, System.Runtime.InteropServices.GCHandleType.Pinned);
        try
        {
            bitmap.InstallPixels(info, pixels.AddrOfPinnedObject(), info.RowBytes);
            using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
            using var file = File.Create(path);
            data.SaveTo(file);
        }
        finally
        {
            pixels.Free();
        }
        var used = result.Settings;
        Console.Out.WriteLine($"wrote {path} ({result.Width}×{result.Height}, seed {result.Seed}, {used.Steps} steps, {used.Sampler}, guidance {used.Guidance}, model {used.Model})");
        foreach (string note in result.Notes ?? []) Console.Out.WriteLine(note);
    }

    /// <summary>The farm connection settings: the configuration section <c>Farm</c>, with <paramref name="url"/> when given.</summary>
    public static FarmConnectOptions ConnectOptions(IConfiguration configuration, string? url)
    {
        var options = new FarmConnectOptions();
        configuration.GetSection("Farm").Bind(options);
        if (url is not null) options.Url = url;
        return options;
    }

    /// <summary>Connects a farm client, turning the client's errors into the CLI's.</summary>
    public static async Task<FarmClient> Connect(IConfiguration configuration, string? url, CancellationToken token)
    {
        try
        {
            return await FarmClient.ConnectAsync(ConnectOptions(configuration, url), cancellationToken: token).ConfigureAwait(false);
        }
        catch (BridgeException e)
        {
            throw new UserException(e.Message, e);
        }
    }

    /// <summary>Starts the farm worker of <c>serve --farm</c> on <paramref name="queue"/>.</summary>
    public static async Task<FarmWorker> StartWorkerAsync(IConfiguration configuration, string url, JobQueue queue, IJobExecutor executor, BridgeOptions limits,
        Action<string> log, CancellationToken token)
    {
        var options = new FarmWorkerOptions();
        configuration.GetSection("Farm").Bind(options);
        try
        {
            return await FarmWorker.StartAsync(ConnectOptions(configuration, url), options, queue, executor, limits, log, token).ConfigureAwait(false);
        }
        catch (BridgeException e)
        {
            throw new UserException(e.Message, e);
        }
    }
}
