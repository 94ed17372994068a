using System.ComponentModel;
using EDiffI.Bridge;
using EDiffI.Bridge.Protocol;
using EDiffI.Host.Bridge;
using EDiffI.Host.Composition;
using EDiffI.Host.Pipeline;
using EDiffI.Host.Runtime;
using Microsoft.Extensions.Configuration;
using Spectre.Console;
using Spectre.Console.Cli;

namespace EDiffI.Host.Commands;

/// <summary>Settings of <c>serve</c>.</summary>
public sealed class ServeSettings : DeviceSettings
{
    [CommandOption("--model <FOLDER>")]
    [Description("model folder to serve (loaded once); default models/default")]
    public string? Model { get; init; }

    [CommandOption("--socket <PATH>")]
    [Description("Unix socket to listen on (default: bridge.sock in $XDG_RUNTIME_DIR/ediffi or ~/.ediffi; on Windows none unless given, in %LOCALAPPDATA%\\EDiffI)")]
    public string? Socket { get; init; }

    [CommandOption("--tcp <PORT>")]
    [Description("also listen on 127.0.0.1:PORT; clients must send the token written to bridge.token beside the socket (on Windows always on, default port 47812)")]
    public int? Tcp { get; init; }

    [CommandOption("--sampler <NAME>")]
    [Description("sampler for requests that name none (default: configuration Sampling:Sampler, else heun)")]
    public string? Sampler { get; init; }

    [CommandOption("--farm <URL>")]
    [Description("also serve the texture farm at this NATS server (nats://host:4222): pull jobs from its JetStream queue; credentials and TLS from the configuration section Farm (README)")]
    public string? Farm { get; init; }

    [CommandOption("--farm-only")]
    [Description("with --farm: serve only the farm, no local socket or TCP")]
    public bool FarmOnly { get; init; }

    [CommandOption("--bench")]
    [Description("instead of serving: time the delivery of a 1024×1024 RGBA8 result against a raw Unix-socket copy, and the handshake")]
    public bool Bench { get; init; }

    [CommandOption("--bench-iterations <N>")]
    [Description("measured repetitions of each --bench case (default 200)")]
    public int BenchIterations { get; init; } = 200;
}

/// <summary><c>serve</c>: the game-engine bridge (MessagePack over a Unix socket, optionally loopback TCP).</summary>
public sealed class ServeCommand(GenerationServiceFactory services, IConfiguration configuration, PluginCatalog plugins,
    IEnumerable<EDiffI.Textures.ITextureGpuProvider> textureGpus)
    : AsyncCommand<ServeSettings>
{
    /// <inheritdoc />
    public override async Task<int> ExecuteAsync(CommandContext context, ServeSettings s, CancellationToken cancellationToken)
    {
        var options = new BridgeOptions();
        configuration.GetSection("Bridge").Bind(options);
        using var cancel = new ConsoleCancellation();
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancel.Token, cancellationToken);
        if (s.Bench)
        {
            if (s.BenchIterations < 10) throw new UserException($"--bench-iterations must be at least 10 (got {s.BenchIterations}).");
            await BridgeBenchmark.RunAsync(s.BenchIterations, options, Console.Out.WriteLine, linked.Token).ConfigureAwait(false);
            return 0;
        }
        if (s.FarmOnly && s.Farm is null) throw new UserException("--farm-only needs --farm nats://host:4222.");
        if (s.FarmOnly && (s.Socket is not null || s.Tcp is not null)) throw new UserException("--farm-only serves no socket; leave out --socket and --tcp.");
        if (s.Tcp is { } requested && (requested < 0 || requested > 65535)) throw new UserException($"--tcp must be a port from 1 to 65535 (got {requested}).");
        string socket = s.Socket ?? BridgeEndpoint.DefaultSocketPath();

        s.ApplyRuntime();
        var device = TorchRuntime.ParseDevice(s.Device);
        string folder = s.Model ?? ModelLocator.ResolveDefault();
        using var service = services.Open(folder, device, TorchRuntime.ComputeType(device, s.Precision));
        string modelName = Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(folder)));
        var executor = new PipelineJobExecutor(service, modelName, s.Sampler, textureGpus);
        var pluginList = plugins.Plugins.Select(p => new PluginSummary { Name = p.Name, Version = p.Version, Status = p.Status.ToString() }).ToList();
        void Log(string line) => Console.Out.WriteLine(line);

        // The local bridge and the farm worker share one queue, so the device runs one job at a time.
        await using var server = s.FarmOnly ? null : new BridgeServer(executor, options, pluginList, Log);
        using var farmQueue = s.FarmOnly ? new JobQueue(executor, options.MaxQueueDepth, options.MaxJobsPerClient, Log) : null;
        if (server is not null)
        {
            var (unix, tcp) = Listeners(OperatingSystem.IsWindows(), s.Socket, s.Tcp);
            if (unix) server.ListenUnix(socket);
            if (tcp is { } port) server.ListenTcp(port, Path.Combine(Path.GetDirectoryName(Path.GetFullPath(socket))!, BridgeEndpoint.TokenFileName));
        }
        await using var worker = s.Farm is null ? null
            : await FarmCommand.StartWorkerAsync(configuration, s.Farm, server?.Queue ?? farmQueue!, executor, options, Log, linked.Token).ConfigureAwait(false);
        Console.Out.WriteLine($"serving {modelName} ({executor.Model.Resolution}×{executor.Model.Resolution}, {device}); Ctrl+C stops");
        var farmRun = worker?.RunAsync(linked.Token) ?? Task.CompletedTask;
        if (server is not null) await server.RunUntilCancelledAsync(linked.Token).ConfigureAwait(false);
        await farmRun.ConfigureAwait(false);
        Console.Out.WriteLine("stopped");
        return 0;
    }

    /// <summary>
    /// What <c>serve</c> listens on: a Unix socket unless on Windows without --socket, and TCP when
    /// --tcp is given or on Windows (port <see cref="BridgeEndpoint.DefaultTcpPort"/>), where the Mono
    /// runtime of the Unity editor cannot open Unix sockets. The same defaults as <see cref="BridgeEndpoint.Default"/>.
    /// </summary>
    public static (bool Unix, int? Tcp) Listeners(bool windows, string? socketOption, int? tcpOption) =>
        (!windows || socketOption is not null, tcpOption ?? (windows ? BridgeEndpoint.DefaultTcpPort : null));
}
