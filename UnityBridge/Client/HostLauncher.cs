using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Runtime.InteropServices;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using EDiffI.Bridge.Protocol;

namespace EDiffI.Bridge;

/// <summary>How to start a host process.</summary>
public sealed class HostLaunchOptions
{
    /// <summary>
    /// The host: its EDiffI.Host.dll (run with `dotnet`), its executable (EDiffI.Host.exe on Windows,
    /// EDiffI.Host elsewhere), or the folder holding them (the executable is preferred: it finds the
    /// .NET runtime by itself).
    /// </summary>
    public string HostPath { get; set; } = "";

    /// <summary>The model folder to serve; null for the host's default model.</summary>
    public string? ModelFolder { get; set; }

    /// <summary>How to reach the host; by default <see cref="BridgeEndpoint.DefaultTransport"/> (TCP on Windows).</summary>
    public BridgeTransport Transport { get; set; } = BridgeEndpoint.DefaultTransport;

    /// <summary>
    /// The socket to listen on; null for <see cref="BridgeEndpoint.DefaultSocketPath"/>. With TCP the host
    /// writes its token file beside it, so setting it moves the token file too.
    /// </summary>
    public string? SocketPath { get; set; }

    /// <summary>The loopback port for <see cref="BridgeTransport.Tcp"/>.</summary>
    public int TcpPort { get; set; } = BridgeEndpoint.DefaultTcpPort;

    /// <summary>More arguments for <c>serve</c> (for example --device cuda).</summary>
    public IList<string> ExtraArguments { get; } = new List<string>();

    /// <summary>The `dotnet` executable used for a .dll host; null to look for it (<see cref="HostLauncher.FindDotnet"/>).</summary>
    public string? DotnetPath { get; set; }

    /// <summary>How long the host may take to load its model and listen.</summary>
    public TimeSpan StartTimeout { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>Where a host started with these options can be reached.</summary>
    public BridgeEndpoint Endpoint()
    {
        if (Transport == BridgeTransport.UnixSocket) return BridgeEndpoint.Unix(SocketPath);
        string? tokenPath = string.IsNullOrEmpty(SocketPath)
            ? null
            : Path.Combine(Path.GetDirectoryName(Path.GetFullPath(SocketPath)) ?? "", BridgeEndpoint.TokenFileName);
        return BridgeEndpoint.Tcp(TcpPort, tokenPath: tokenPath);
    }
}

/// <summary>Starts a host process and waits until it accepts connections.</summary>
public static class HostLauncher
{
    private static bool IsWindows => RuntimeInformation.IsOSPlatform(OSPlatform.Windows);

    /// <summary>
    /// Starts <c>serve</c> and returns a connected client once the host answers at
    /// <see cref="HostLaunchOptions.Endpoint"/>. The process keeps running after the client is disposed
    /// (stop it through <paramref name="process"/>, which is called once it has started).
    /// </summary>
    /// <exception cref="BridgeException">Code <see cref="ErrorCodes.HostStartFailed"/>: the host path is wrong, `dotnet`
    /// cannot be found, a host already listens there, or the host exited or did not listen in time; the message
    /// carries the host's own last words (for example that the socket folder is not writable).</exception>
    public static async Task<BridgeClient> StartAsync(HostLaunchOptions options, Action<Process>? process = null, CancellationToken cancellationToken = default)
    {
        if (options is null) throw new ArgumentNullException(nameof(options));
        var endpoint = options.Endpoint();
        var info = StartInfo(options);
        await RefuseIfServedAsync(endpoint, cancellationToken).ConfigureAwait(false);

        var output = new OutputTail();
        Process started;
        try
        {
            started = Process.Start(info) ?? throw new BridgeException(ErrorCodes.HostStartFailed, $"'{info.FileName}' could not be started.");
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException or IOException)
        {
            throw new BridgeException(ErrorCodes.HostStartFailed, $"'{info.FileName}' could not be started ({e.Message}). Check the host path and that the .NET 10 runtime is installed.", e);
        }
        started.OutputDataReceived += (_, e) => output.Add(e.Data);
        started.ErrorDataReceived += (_, e) => output.Add(e.Data);
        started.BeginOutputReadLine();
        started.BeginErrorReadLine();
        process?.Invoke(started);

        var deadline = DateTime.UtcNow + options.StartTimeout;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (started.HasExited)
            {
                started.WaitForExit(); // lets the output readers finish
                throw new BridgeException(ErrorCodes.HostStartFailed, $"The host exited (code {started.ExitCode}) before it listened: {output}");
            }
            if (endpoint.SocketPath is null || File.Exists(endpoint.SocketPath))
            {
                try
                {
                    return await BridgeClient.ConnectAsync(endpoint, cancellationToken).ConfigureAwait(false);
                }
                catch (BridgeException e) when (e.Code == ErrorCodes.HostNotRunning || e.Code == ErrorCodes.Unauthorized)
                {
                    // Not listening yet, a stale socket file the host is about to replace, or the token file of
                    // an earlier run read just before the host wrote its own.
                }
            }
            if (DateTime.UtcNow > deadline)
            {
                try { started.Kill(); } catch (InvalidOperationException) { }
                throw new BridgeException(ErrorCodes.HostStartFailed, $"The host did not listen at {endpoint} within {options.StartTimeout.TotalSeconds:0} s: {output}");
            }
            await Task.Delay(100, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The process to start for <paramref name="options"/>: the host's executable, or `dotnet` with its
    /// DLL, then <c>serve</c> and its options, quoted for the Windows command line (which .NET also
    /// parses this way on macOS and Linux).
    /// </summary>
    /// <exception cref="BridgeException">The host or `dotnet` is not found.</exception>
    public static ProcessStartInfo StartInfo(HostLaunchOptions options)
    {
        if (options is null) throw new ArgumentNullException(nameof(options));
        string host = ResolveHost(options.HostPath);
        var arguments = new List<string>();
        string fileName;
        if (host.EndsWith(".dll", StringComparison.OrdinalIgnoreCase))
        {
            fileName = string.IsNullOrEmpty(options.DotnetPath) ? FindDotnet() : options.DotnetPath!;
            arguments.Add(host);
        }
        else fileName = host;
        arguments.Add("serve");
        if (!string.IsNullOrEmpty(options.SocketPath))
        {
            arguments.Add("--socket");
            arguments.Add(Path.GetFullPath(options.SocketPath));
        }
        if (options.Transport == BridgeTransport.Tcp)
        {
            arguments.Add("--tcp");
            arguments.Add(options.TcpPort.ToString(CultureInfo.InvariantCulture));
        }
        if (!string.IsNullOrEmpty(options.ModelFolder))
        {
            arguments.Add("--model");
            arguments.Add(Path.GetFullPath(options.ModelFolder));
        }
        arguments.AddRange(options.ExtraArguments);
        return new ProcessStartInfo
        {
            FileName = fileName,
            Arguments = CommandLine(arguments),
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            CreateNoWindow = true, // no console window on Windows
            WorkingDirectory = Path.GetDirectoryName(host) ?? "",
        };
    }

    /// <summary>
    /// The `dotnet` executable: $DOTNET_HOST_PATH, $DOTNET_ROOT, each folder of $PATH, then the
    /// places the .NET installers use (%ProgramFiles%\dotnet on Windows, /usr/local/share/dotnet on
    /// macOS, /usr/share/dotnet and /usr/lib/dotnet on Linux, ~/.dotnet).
    /// </summary>
    /// <exception cref="BridgeException">None of them has it.</exception>
    public static string FindDotnet()
    {
        string name = IsWindows ? "dotnet.exe" : "dotnet";
        var candidates = new List<string>();
        if (Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } hostPath) candidates.Add(hostPath);
        if (Environment.GetEnvironmentVariable("DOTNET_ROOT") is { Length: > 0 } root) candidates.Add(Path.Combine(root, name));
        foreach (string folder in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator))
            if (folder.Trim().Trim('"') is { Length: > 0 } trimmed) candidates.Add(Path.Combine(trimmed, name));
        if (IsWindows)
        {
            foreach (var special in new[] { Environment.SpecialFolder.ProgramFiles, Environment.SpecialFolder.ProgramFilesX86 })
                if (Environment.GetFolderPath(special) is { Length: > 0 } programs) candidates.Add(Path.Combine(programs, "dotnet", name));
        }
        else
        {
            candidates.Add("/usr/local/share/dotnet/dotnet"); // macOS installer
            candidates.Add("/opt/homebrew/bin/dotnet");       // Homebrew on Apple silicon
            candidates.Add("/usr/local/bin/dotnet");
            candidates.Add("/usr/share/dotnet/dotnet");
            candidates.Add("/usr/lib/dotnet/dotnet");
        }
        candidates.Add(Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".dotnet", name));
        foreach (string candidate in candidates)
        {
            try
            {
                if (File.Exists(candidate)) return candidate;
            }
            catch (ArgumentException)
            {
                // A PATH entry with characters a path cannot hold.
            }
        }
        throw new BridgeException(ErrorCodes.HostStartFailed,
            $"`{name}` was not found (looked in DOTNET_ROOT, PATH and the usual install folders). Install the .NET 10 runtime, or set the host path to the EDiffI.Host executable.");
    }

    /// <summary>
    /// Joins <paramref name="arguments"/> into one command line that splits back into exactly them
    /// by the Windows rules (quotes around arguments with spaces, tabs or quotes; backslashes doubled
    /// only before a quote, so `C:\Program Files\` keeps its trailing backslash).
    /// </summary>
    public static string CommandLine(IEnumerable<string> arguments)
    {
        if (arguments is null) throw new ArgumentNullException(nameof(arguments));
        var line = new StringBuilder();
        foreach (string argument in arguments)
        {
            if (line.Length > 0) line.Append(' ');
            if (argument.Length > 0 && argument.IndexOfAny(NeedQuotes) < 0)
            {
                line.Append(argument);
                continue;
            }
            line.Append('"');
            int backslashes = 0;
            foreach (char c in argument)
            {
                if (c == '\\')
                {
                    backslashes++;
                    continue;
                }
                // Backslashes before a quote are doubled and the quote escaped; elsewhere they are literal.
                line.Append('\\', c == '"' ? backslashes * 2 + 1 : backslashes);
                line.Append(c);
                backslashes = 0;
            }
            line.Append('\\', backslashes * 2).Append('"');
        }
        return line.ToString();
    }

    private static readonly char[] NeedQuotes = { ' ', '\t', '\n', '\v', '"' };

    private static string ResolveHost(string hostPath)
    {
        const string build = "Set the host path to EDiffI.Host.dll or the EDiffI.Host executable (built by `dotnet build Host -c Release`, in Host/bin/Release/net10.0), or to that folder.";
        if (string.IsNullOrWhiteSpace(hostPath))
            throw new BridgeException(ErrorCodes.HostStartFailed, "No host path is set. " + build);
        string full;
        try
        {
            full = Path.GetFullPath(hostPath.Trim().Trim('"'));
        }
        catch (Exception e) when (e is ArgumentException or NotSupportedException or PathTooLongException)
        {
            throw new BridgeException(ErrorCodes.HostStartFailed, $"The host path '{hostPath}' is not a valid path ({e.Message}). " + build, e);
        }
        if (Directory.Exists(full))
        {
            foreach (string name in IsWindows ? new[] { "EDiffI.Host.exe", "EDiffI.Host.dll" } : new[] { "EDiffI.Host", "EDiffI.Host.dll" })
                if (File.Exists(Path.Combine(full, name))) return Path.Combine(full, name);
            throw new BridgeException(ErrorCodes.HostStartFailed, $"The folder {full} holds no EDiffI.Host. " + build);
        }
        if (!File.Exists(full)) throw new BridgeException(ErrorCodes.HostStartFailed, $"The host was not found at '{hostPath}'. " + build);
        return full;
    }

    private static async Task RefuseIfServedAsync(BridgeEndpoint endpoint, CancellationToken cancellationToken)
    {
        if (endpoint.SocketPath is { } socket && !File.Exists(socket)) return;
        if (endpoint.SocketPath is null && !File.Exists(endpoint.TokenPath)) return;
        try
        {
            using var running = await BridgeClient.ConnectAsync(endpoint, TimeSpan.FromSeconds(5), cancellationToken).ConfigureAwait(false);
        }
        catch (BridgeException)
        {
            return; // nobody (or nothing we could use) answers there
        }
        throw new BridgeException(ErrorCodes.HostStartFailed, $"A host is already listening at {endpoint}: connect to it, or stop it before starting another.");
    }

    // The last lines a process printed, for error messages.
    private sealed class OutputTail
    {
        private readonly Queue<string> _lines = new();

        public void Add(string? line)
        {
            if (string.IsNullOrWhiteSpace(line)) return;
            lock (_lines)
            {
                _lines.Enqueue(line!.Trim());
                while (_lines.Count > 8) _lines.Dequeue();
            }
        }

        public override string ToString()
        {
            lock (_lines)
            {
                if (_lines.Count == 0) return "(no output)";
                var text = new StringBuilder();
                foreach (var line in _lines) text.Append(text.Length == 0 ? "" : " | ").Append(line);
                return text.ToString();
            }
        }
    }
}
