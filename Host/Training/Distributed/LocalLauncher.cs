using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using EDiffI.Host.Runtime;

namespace EDiffI.Host.Training.Distributed;

/// <summary>
/// <c>train --gpus N</c>: starts N processes of this program on this machine with the same arguments and
/// <c>--distributed</c> in place of <c>--gpus N</c>, each with RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT
/// set as torchrun would; forwards their output line by line prefixed with the rank; and, when one fails, gives the
/// others a moment to stop by themselves (their liveness channel tells them) before killing them.
/// </summary>
public static class LocalLauncher
{
    /// <summary>How long the other ranks get to stop by themselves after one has failed.</summary>
    public static readonly TimeSpan StopGrace = TimeSpan.FromSeconds(60);

    /// <summary>The command line of a rank: <paramref name="arguments"/> without <c>--gpus N</c> (or <c>--gpus=N</c>), plus <c>--distributed</c>.</summary>
    public static List<string> RankArguments(IReadOnlyList<string> arguments)
    {
        var result = new List<string>();
        for (int i = 0; i < arguments.Count; i++)
        {
            if (arguments[i] == "--gpus") { i++; continue; }
            if (arguments[i].StartsWith("--gpus=", StringComparison.Ordinal)) continue;
            result.Add(arguments[i]);
        }
        if (!result.Contains("--distributed")) result.Add("--distributed");
        return result;
    }

    /// <summary>Runs <paramref name="gpus"/> ranks of this program's command line to the end; returns the first failing rank's exit code, or 0.</summary>
    public static int Run(int gpus)
    {
        if (gpus < 1) throw new UserException($"--gpus must be at least 1 (got {gpus}).");
        var args = Environment.GetCommandLineArgs();
        string host = Environment.ProcessPath ?? throw new UserException("The path of this program is unknown, so --gpus cannot start it again; use torchrun --no-python instead.");
        // Under `dotnet EDiffI.Host.dll …` the first argument is the assembly the host runs.
        var prefix = Path.GetFileNameWithoutExtension(host) == "dotnet" ? new[] { args[0] } : [];
        var rankArgs = RankArguments(args.Skip(1).ToList());
        int port = FreePort();
        var processes = new List<Process>();
        var output = new object();
        try
        {
            for (int rank = 0; rank < gpus; rank++)
            {
                var info = new ProcessStartInfo(host) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
                foreach (var a in prefix.Concat(rankArgs)) info.ArgumentList.Add(a);
                info.Environment["RANK"] = info.Environment["LOCAL_RANK"] = rank.ToString();
                info.Environment["WORLD_SIZE"] = info.Environment["LOCAL_WORLD_SIZE"] = gpus.ToString();
                info.Environment["MASTER_ADDR"] = "127.0.0.1";
                info.Environment["MASTER_PORT"] = port.ToString();
                var process = new Process { StartInfo = info, EnableRaisingEvents = true };
                int r = rank;
                void Forward(object? sender, DataReceivedEventArgs e)
                {
                    if (e.Data is null) return;
                    lock (output) Console.WriteLine($"[rank {r}] {e.Data}");
                }
                process.OutputDataReceived += Forward;
                process.ErrorDataReceived += Forward;
                process.Start();
                process.BeginOutputReadLine();
                process.BeginErrorReadLine();
                processes.Add(process);
            }
            // Ctrl+C reaches the ranks through the terminal; a SIGTERM to the launcher is passed on to each.
            using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c =>
            {
                c.Cancel = true;
                foreach (var p in processes) Signal(p, 15);
            });
            var exits = processes.Select(p => p.WaitForExitAsync(CancellationToken.None)).ToList();
            int failed = -1;
            var pending = new List<Task>(exits);
            while (pending.Count > 0)
            {
                var done = Task.WhenAny(pending).GetAwaiter().GetResult();
                pending.Remove(done);
                int rank = exits.IndexOf((Task)done);
                if (processes[rank].ExitCode != 0 && failed < 0)
                {
                    failed = rank;
                    lock (output) Console.Error.WriteLine($"rank {rank} exited with code {processes[rank].ExitCode}; stopping the others.");
                    if (!Task.WhenAll(pending).Wait(StopGrace))
                        foreach (var p in processes.Where(p => !p.HasExited)) p.Kill(entireProcessTree: true);
                }
            }
            foreach (var p in processes) p.WaitForExit(); // drains the forwarded output
            return failed < 0 ? 0 : processes[failed].ExitCode;
        }
        finally
        {
            foreach (var p in processes)
            {
                if (!p.HasExited) p.Kill(entireProcessTree: true);
                p.Dispose();
            }
        }
    }

    // A port free on this machine for rank 0's rendezvous.
    private static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);

    private static void Signal(Process process, int signal)
    {
        if (!process.HasExited) _ = Kill(process.Id, signal);
    }
}
