using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using EDiffI.Bridge.Protocol;

namespace EDiffI.Bridge;

/// <summary>How to start a host process.</summary>
public sealed class HostLaunchOptions
{
    /// <summary>
    /// The host: its EDiffI.Host.dll (run with `dotnet`), or its executable (EDiffI.Host,
    /// EDiffI.Host.exe).
    /// </summary>
    public string HostPath { get; set; } = "";

    /// <summary>The model folder to serve; null for the host's default model.</summary>
    public string? ModelFolder { get; set; }

    /// <summary>The socket to listen on; null for <see cref="BridgeEndpoint.DefaultSocketPath"/>.</summary>
    public string? SocketPath { get; set; }

    /// <summary>More arguments for <c>serve</c> (for example --device cuda).</summary>
    public IList<string> ExtraArguments { get; } = new List<string>();

    /// <summary>The `dotnet` executable used for a .dll host.</summary>
    public string DotnetPath { get; set; } = "dotnet";

    /// <summary>How long the host may take to load its model and listen.</summary>
    public TimeSpan StartTimeout { get; set; } = TimeSpan.FromMinutes(2);
}

/// <summary>Starts a host process and waits until it accepts connections.</summary>
public static class HostLauncher
{
    /// <summary>
    /// Starts <c>serve</c> and returns a connected client once the host answers on its socket. The
    /// process keeps running after the client is disposed (stop it through <paramref name="process"/>).
    /// </summary>
    /// <exception cref="BridgeException">Code <see cref="ErrorCodes.HostStartFailed"/>: the host path is wrong, or the host
    /// exited or did not listen in time; the message carries the host's own last words (for example
    /// that the socket folder is not writable).</exception>
    public static async Task<BridgeClient> StartAsync(HostLaunchOptions options, Action<Process>? process = null, CancellationToken cancellationToken = default)
    {
        if (options is null) throw new ArgumentNullException(nameof(options));
        if (string.IsNullOrWhiteSpace(options.HostPath) || !File.Exists(options.HostPath))
            throw new BridgeException(ErrorCodes.HostStartFailed,
                $"The host was not found at '{options.HostPath}'. Set the host path to EDiffI.Host.dll (built by `dotnet build Host`) or the EDiffI.Host executable.");
        string socket = options.SocketPath ?? BridgeEndpoint.DefaultSocketPath();
        var info = new ProcessStartInfo
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            CreateNoWindow = true,
            WorkingDirectory = Path.GetDirectoryName(Path.GetFullPath(options.HostPath)) ?? "",
        };
        var arguments = new List<string>();
        if (options.HostPath.EndsWith(".dll", StringComparison.OrdinalIgnoreCase))
        {
            info.FileName = options.DotnetPath;
            arguments.Add(Path.GetFullPath(options.HostPath));
        }
        else info.FileName = Path.GetFullPath(options.HostPath);
        arguments.Add("serve");
        arguments.Add("--socket");
        arguments.Add(socket);
        if (options.ModelFolder is { } model)
        {
            arguments.Add("--model");
            arguments.Add(model);
        }
        arguments.AddRange(options.ExtraArguments);
        info.Arguments = string.Join(" ", arguments.ConvertAll(Quote));

        var output = new OutputTail();
        Process started;
        try
        {
            started = Process.Start(info) ?? throw new BridgeException(ErrorCodes.HostStartFailed, $"'{info.FileName}' could not be started.");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new BridgeException(ErrorCodes.HostStartFailed, $"'{info.FileName}' could not be started ({e.Message}).", e);
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
            if (File.Exists(socket))
            {
                try
                {
                    return await BridgeClient.ConnectAsync(BridgeEndpoint.Unix(socket), cancellationToken).ConfigureAwait(false);
                }
                catch (BridgeException e) when (e.Code == ErrorCodes.HostNotRunning)
                {
                    // Not listening yet (or a stale file the host is about to replace).
                }
            }
            if (DateTime.UtcNow > deadline)
            {
                try { started.Kill(); } catch (InvalidOperationException) { }
                throw new BridgeException(ErrorCodes.HostStartFailed, $"The host did not listen at {socket} within {options.StartTimeout.TotalSeconds:0} s: {output}");
            }
            await Task.Delay(100, cancellationToken).ConfigureAwait(false);
        }
    }

    private static readonly char[] NeedQuotes = { ' ', '"', '\t' };

    private static string Quote(string argument) =>
        argument.Length > 0 && argument.IndexOfAny(NeedQuotes) < 0 ? argument : "\"" + argument.Replace("\"", "\\\"") + "\"";

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
