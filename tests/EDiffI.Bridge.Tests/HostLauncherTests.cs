using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using EDiffI.Bridge.Protocol;
using EDiffI.Host.Commands;

namespace EDiffI.Bridge.Tests;

/// <summary>
/// How the launcher starts a host: the command line it builds (Windows quoting rules, which .NET
/// applies on every platform), which file it runs for a DLL, an executable or a folder, and a real
/// host started over loopback TCP with its token file, as the Unity window does on Windows.
/// </summary>
public class HostLauncherTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(120);

    public static TheoryData<string[]> Arguments => new()
    {
        new[] { "serve", "--tcp", "47812" },
        new[] { @"C:\Program Files\EDiffI\", "--model", @"C:\models\my model" },
        new[] { "", "say \"hi\"", @"back\\", @"a\\""b", "tab\there" },
        new[] { @"\\server\share\EDiffI.Host.dll", @"end with one \" },
    };

    [Theory]
    [MemberData(nameof(Arguments))]
    public void CommandLineSplitsBackIntoTheSameArguments(string[] arguments)
    {
        if (OperatingSystem.IsWindows()) return; // printf is the reader here; on Windows the same rules are CommandLineToArgvW's
        string line = HostLauncher.CommandLine(arguments);
        var info = new ProcessStartInfo("printf", HostLauncher.CommandLine(["[%s]\\n"]) + " " + line)
        {
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        using var process = Process.Start(info)!;
        string output = process.StandardOutput.ReadToEnd();
        Assert.True(process.WaitForExit(30_000));
        Assert.Equal(string.Concat(arguments.Select(a => "[" + a + "]\n")), output);
    }

    [Fact]
    public void StartInfoRunsTheExecutableOrDotnetWithTheDll()
    {
        var folder = Directory.CreateTempSubdirectory("ediffi host ").FullName; // a space, as in "Program Files"
        try
        {
            string dll = Path.Combine(folder, "EDiffI.Host.dll");
            File.WriteAllText(dll, "");
            string dotnet = Path.Combine(folder, "dotnet");
            var options = new HostLaunchOptions { HostPath = folder, DotnetPath = dotnet, Transport = BridgeTransport.Tcp, TcpPort = 5000, ModelFolder = Path.Combine(folder, "m") };
            var info = HostLauncher.StartInfo(options);
            Assert.Equal(dotnet, info.FileName);
            Assert.Equal(HostLauncher.CommandLine([dll, "serve", "--tcp", "5000", "--model", Path.Combine(folder, "m")]), info.Arguments);
            Assert.Equal(folder, info.WorkingDirectory);
            Assert.True(info.CreateNoWindow);

            // The executable beside the DLL is preferred: it finds the .NET runtime by itself.
            string exe = Path.Combine(folder, OperatingSystem.IsWindows() ? "EDiffI.Host.exe" : "EDiffI.Host");
            File.WriteAllText(exe, "");
            info = HostLauncher.StartInfo(new HostLaunchOptions { HostPath = folder, Transport = BridgeTransport.UnixSocket, SocketPath = Path.Combine(folder, "b.sock") });
            Assert.Equal(exe, info.FileName);
            Assert.Equal(HostLauncher.CommandLine(["serve", "--socket", Path.Combine(folder, "b.sock")]), info.Arguments);

            var empty = Assert.Throws<BridgeException>(() => HostLauncher.StartInfo(new HostLaunchOptions { HostPath = Path.Combine(folder, "m") }));
            Assert.Contains("not found", empty.Message);
            var unset = Assert.Throws<BridgeException>(() => HostLauncher.StartInfo(new HostLaunchOptions()));
            Assert.Contains("No host path is set", unset.Message);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void TcpEndpointReadsTheTokenBesideTheSocketFolder()
    {
        string socket = Path.Combine(Path.GetTempPath(), "ediffi-x", "b.sock");
        var endpoint = new HostLaunchOptions { Transport = BridgeTransport.Tcp, TcpPort = 4000, SocketPath = socket }.Endpoint();
        Assert.Equal((BridgeTransport.Tcp, 4000), (endpoint.Transport, endpoint.TcpPort));
        Assert.Equal(Path.Combine(Path.GetTempPath(), "ediffi-x", BridgeEndpoint.TokenFileName), endpoint.TokenPath);
        Assert.Equal(BridgeEndpoint.DefaultTokenPath(), new HostLaunchOptions { Transport = BridgeTransport.Tcp }.Endpoint().TokenPath);
        Assert.Equal(OperatingSystem.IsWindows() ? BridgeTransport.Tcp : BridgeTransport.UnixSocket, BridgeEndpoint.Default().Transport);
    }

    [Fact]
    public void ServeListensWhereTheClientLooksByDefault()
    {
        // Windows: TCP on the default port only (Unity's Mono has no Unix sockets there), a socket when asked for.
        Assert.Equal((false, (int?)BridgeEndpoint.DefaultTcpPort), ServeCommand.Listeners(windows: true, null, null));
        Assert.Equal((true, (int?)5000), ServeCommand.Listeners(windows: true, "b.sock", 5000));
        // macOS and Linux: the socket, and TCP only when asked for.
        Assert.Equal((true, (int?)null), ServeCommand.Listeners(windows: false, null, null));
        Assert.Equal((true, (int?)5000), ServeCommand.Listeners(windows: false, null, 5000));
        var (unix, tcp) = ServeCommand.Listeners(OperatingSystem.IsWindows(), null, null);
        Assert.Equal(BridgeEndpoint.Default().Transport == BridgeTransport.Tcp, tcp == BridgeEndpoint.DefaultTcpPort && !unix);
    }

    [Fact]
    public async Task RealHostStartsOnLoopbackTcpWithItsTokenFile()
    {
        var folder = Directory.CreateTempSubdirectory("ediffi-tcp-").FullName;
        Process? host = null;
        try
        {
            string model = Path.Combine(folder, "tiny");
            Directory.CreateDirectory(model);
            EndToEndTests.MakeTinyModel(model);
            var options = new HostLaunchOptions
            {
                HostPath = Path.GetDirectoryName(EndToEndTests.HostDll())!, // the folder, as a Unity user would pick it
                ModelFolder = model,
                Transport = BridgeTransport.Tcp,
                TcpPort = FreePort(),
                SocketPath = Path.Combine(folder, "run", "b.sock"), // keeps the token file in this test's folder
            };
            using var client = await HostLauncher.StartAsync(options, p => host = p).WaitAsync(Deadline);
            Assert.Equal(16, client.Server.Model!.Resolution);
            Assert.True(File.Exists(Path.Combine(folder, "run", BridgeEndpoint.TokenFileName)));
            var result = await client.GenerateAsync(new GenerateRequest { Prompt = "tcp", Seed = 2, Steps = 2 }).WaitAsync(Deadline);
            Assert.Equal((16, 16), (result.Width, result.Height));

            // Starting a second host at the same endpoint is refused before a process is made.
            int before = host is null ? 0 : host.Id;
            var twice = await Assert.ThrowsAsync<BridgeException>(() => HostLauncher.StartAsync(options, p => before = -1).WaitAsync(Deadline));
            Assert.Equal(ErrorCodes.HostStartFailed, twice.Code);
            Assert.Contains("already listening", twice.Message);
            Assert.NotEqual(-1, before);
        }
        finally
        {
            if (host is { HasExited: false }) host.Kill();
            host?.WaitForExit(10_000);
            host?.Dispose();
            try { Directory.Delete(folder, recursive: true); } catch (IOException) { }
        }
    }

    private static int FreePort()
    {
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)probe.LocalEndPoint!).Port;
    }
}
