using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace EDiffI.Bridge.Tests;

/// <summary>
/// Whether the farm tests can run: they need nats-server (Debian's package). CI (.ci/run) installs it and sets
/// EDIFFI_REQUIRE_NATS=1: then the tests always run and fail without it. Elsewhere they are skipped with the reason.
/// </summary>
public static class NatsAvailability
{
    private static readonly Lazy<string?> Executable = new(() =>
        new[] { Environment.GetEnvironmentVariable("PATH") ?? "", "/usr/sbin", "/usr/local/sbin" }
            .SelectMany(p => p.Split(Path.PathSeparator))
            .Where(d => d.Length > 0)
            .Select(d => Path.Combine(d, "nats-server"))
            .FirstOrDefault(File.Exists));

    /// <summary>True when CI demands the farm tests.</summary>
    public static bool Required => Environment.GetEnvironmentVariable("EDIFFI_REQUIRE_NATS") == "1";

    /// <summary>The nats-server program, or null.</summary>
    public static string? ProgramPath => Executable.Value;

    /// <summary>Why the farm tests are skipped, or null when they run.</summary>
    public static string? SkipReason => Required || Executable.Value is not null ? null
        : "nats-server is not installed (apt-get install nats-server), farm tests skipped";
}

/// <summary>A fact that needs nats-server: skipped with the reason when it is missing, unless CI requires it.</summary>
public sealed class NatsFactAttribute : FactAttribute
{
    /// <summary>Sets <see cref="FactAttribute.Skip"/> from <see cref="NatsAvailability.SkipReason"/>.</summary>
    public NatsFactAttribute()
    {
        if (NatsAvailability.SkipReason is { } reason) Skip = reason;
    }
}

/// <summary>
/// A real nats-server on a free loopback port with JetStream on file storage in a temporary folder; it can be
/// stopped and started again on the same port and folder.
/// </summary>
internal sealed class NatsServer : IAsyncDisposable
{
    private readonly string[] _extraArgs;
    private Process? _process;

    private NatsServer(string[] extraArgs)
    {
        _extraArgs = extraArgs;
        Folder = Directory.CreateTempSubdirectory("ediffi-nats-").FullName;
        Port = FreePort();
    }

    public string Folder { get; }
    public int Port { get; }
    public string Url => $"nats://127.0.0.1:{Port}";

    /// <summary>Starts a server; <paramref name="extraArgs"/> go on its command line (for example --auth).</summary>
    public static async Task<NatsServer> StartAsync(params string[] extraArgs)
    {
        var server = new NatsServer(extraArgs);
        await server.StartAgainAsync();
        return server;
    }

    /// <summary>Starts the server (again) and waits until it says it is ready.</summary>
    public async Task StartAgainAsync()
    {
        string program = NatsAvailability.ProgramPath ?? throw new InvalidOperationException("nats-server is not installed (EDIFFI_REQUIRE_NATS=1): apt-get install nats-server");
        var info = new ProcessStartInfo(program) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (string arg in new[] { "-a", "127.0.0.1", "-p", Port.ToString(), "-js", "-sd", Path.Combine(Folder, "jetstream") }.Concat(_extraArgs))
            info.ArgumentList.Add(arg);
        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var log = new List<string>();
        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        void Line(object? _, DataReceivedEventArgs e)
        {
            if (e.Data is null) return;
            lock (log) log.Add(e.Data);
            if (e.Data.Contains("Server is ready", StringComparison.Ordinal)) ready.TrySetResult();
        }
        process.ErrorDataReceived += Line;
        process.OutputDataReceived += Line;
        process.Exited += (_, _) => ready.TrySetException(new InvalidOperationException("nats-server stopped: " + string.Join('\n', log)));
        process.Start();
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        _process = process;
        await ready.Task.WaitAsync(TimeSpan.FromSeconds(30));
    }

    /// <summary>Stops the server the way a service manager does (SIGTERM), and waits for it to exit.</summary>
    public async Task StopAsync()
    {
        if (_process is not { HasExited: false } process) return;
        if (kill(process.Id, 15) != 0) process.Kill();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        process.Dispose();
        _process = null;
    }

    public async ValueTask DisposeAsync()
    {
        if (_process is { HasExited: false } process)
        {
            process.Kill();
            await process.WaitForExitAsync();
        }
        _process?.Dispose();
        try { Directory.Delete(Folder, recursive: true); } catch (IOException) { }
    }

    private static int FreePort()
    {
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)probe.LocalEndPoint!).Port;
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int sig);
}
