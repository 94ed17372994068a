using System.Net.Sockets;
using EDiffI.Bridge.Protocol;
using EDiffI.Host.Bridge;
using EDiffI.Host.Runtime;

namespace EDiffI.Bridge.Tests;

public class ServerTests
{
    // What every wait on an event allows: far more than any step takes, even on a loaded 2-core machine.
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    private static GenerateRequest Request(string prompt, long seed = 1) => new() { Prompt = prompt, Seed = seed };

    // Set by the client's Accepted callback: the host has put the job in its queue.
    private static TaskCompletionSource<Accepted> AcceptedSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    [Fact]
    public async Task HandshakeListAndGenerate()
    {
        var executor = new FakeExecutor();
        await using var host = new TestServer(executor);
        using var client = await host.ConnectAsync();
        Assert.Equal(BridgeProtocol.Version, client.Server.ProtocolVersion);
        Assert.True(client.HasCapability(Capabilities.Generate));
        Assert.False(client.HasCapability(Capabilities.Tiling));
        Assert.Equal("fake", client.Server.Model!.Name);
        var list = await client.ListAsync();
        Assert.Equal(["fake"], list.Samplers);
        var steps = new List<int>();
        Accepted? accepted = null;
        var result = await client.GenerateAsync(Request("bricks", 42), p => steps.Add(p.Step), a => accepted = a);
        Assert.NotNull(accepted);
        Assert.Equal([0, 1, 2, 3], steps);
        Assert.Equal(42, result.Seed);
        Assert.Equal(FakeExecutor.Image("bricks", 42), result.Rgba);
        Assert.Equal(("bricks", "fake", FakeExecutor.Side), (result.Settings.Prompt, result.Settings.Sampler, result.Width));
    }

    [Fact]
    public async Task QueueIsFairBetweenClients()
    {
        var executor = new FakeExecutor { Gate = new ManualResetEventSlim(false) };
        await using var host = new TestServer(executor);
        using var a = await host.ConnectAsync();
        using var b = await host.ConnectAsync();
        var first = a.GenerateAsync(Request("a0"));
        Assert.True(executor.Started.Wait(Deadline)); // a0 runs and holds the device
        var acceptedA = Enumerable.Range(1, 3).Select(_ => AcceptedSignal()).ToList();
        var queuedA = Enumerable.Range(1, 3).Select(i => a.GenerateAsync(Request("a" + i), accepted: x => acceptedA[i - 1].TrySetResult(x))).ToList();
        await Task.WhenAll(acceptedA.Select(t => t.Task)).WaitAsync(Deadline); // a1..a3 are queued before b0
        var acceptedB = AcceptedSignal();
        var queuedB = b.GenerateAsync(Request("b0"), accepted: x => acceptedB.TrySetResult(x));
        await acceptedB.Task.WaitAsync(Deadline); // b0 is queued before a0 finishes
        executor.Gate.Set();
        await Task.WhenAll([first, .. queuedA, queuedB]).WaitAsync(Deadline);
        Assert.Equal(["a0", "a1", "b0", "a2", "a3"], executor.Ran);
    }

    [Fact]
    public async Task CancelRemovesAQueuedJobAndStopsARunningOne()
    {
        // The test hands out the running job's steps one permit at a time, so what ran before and
        // after each cancel is exact rather than a matter of timing.
        var executor = new FakeExecutor { StepsPerJob = 1000, StepPermits = new SemaphoreSlim(0) };
        await using var host = new TestServer(executor);
        using var client = await host.ConnectAsync();
        using var stopRunning = new CancellationTokenSource();
        using var stopQueued = new CancellationTokenSource();
        const int stepsBeforeCancel = 3;
        int progressOfRunning = 0;
        var progressed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var running = client.GenerateAsync(Request("long"),
            _ => { if (Interlocked.Increment(ref progressOfRunning) == stepsBeforeCancel) progressed.TrySetResult(); },
            cancellationToken: stopRunning.Token);
        executor.StepPermits.Release(stepsBeforeCancel);
        await progressed.Task.WaitAsync(Deadline); // the job runs and reports its steps
        var acceptedQueued = AcceptedSignal();
        var queued = client.GenerateAsync(Request("never"), accepted: x => acceptedQueued.TrySetResult(x), cancellationToken: stopQueued.Token);
        await acceptedQueued.Task.WaitAsync(Deadline); // queued behind the running job
        stopQueued.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => queued);
        stopRunning.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => running);
        await executor.Cancelled.Task.WaitAsync(Deadline); // the cancel reached the job while it waited for its next step
        Assert.Equal(["long"], executor.Ran); // the queued job never started
        Assert.Equal(1, executor.CancelledWhileRunning);
        Assert.Equal(stepsBeforeCancel, Volatile.Read(ref progressOfRunning));
        // The connection is fine afterwards.
        executor.StepPermits = null;
        var after = await client.GenerateAsync(Request("after"), cancellationToken: CancellationToken.None).WaitAsync(Deadline);
        Assert.Equal(FakeExecutor.Image("after", 1), after.Rgba);
    }

    [Fact]
    public async Task CancelOfAnUnknownJobIsAnError()
    {
        await using var host = new TestServer(new FakeExecutor());
        using var raw = await RawClient.ConnectAsync(host.SocketPath);
        await raw.SendAsync(new Cancel { RequestId = 77 });
        var reply = Assert.IsType<BridgeError>(await raw.ReceiveAsync());
        Assert.Equal((77, ErrorCodes.UnknownJob), (reply.RequestId, reply.Code));
    }

    [Fact]
    public async Task DisconnectCancelsTheClientsJobs()
    {
        // No step permit is ever released: the running job waits at its first step until its cancellation.
        var executor = new FakeExecutor { StepsPerJob = 1000, StepPermits = new SemaphoreSlim(0) };
        await using var host = new TestServer(executor);
        var leaving = await host.ConnectAsync();
        var jobs = Enumerable.Range(0, 3).Select(i => leaving.GenerateAsync(Request("left" + i))).ToList();
        Assert.True(executor.Started.Wait(Deadline));
        leaving.Dispose();
        foreach (var job in jobs) await Assert.ThrowsAsync<BridgeException>(() => job);
        // The running job stops at its cancellation, the queued ones never run, and the next client is served at once.
        await host.Server.WhenConnectionsAtMostAsync(0).WaitAsync(Deadline);
        await executor.Cancelled.Task.WaitAsync(Deadline);
        executor.StepPermits = null;
        executor.StepsPerJob = 2;
        using var next = await host.ConnectAsync();
        var result = await next.GenerateAsync(Request("next")).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(FakeExecutor.Image("next", 1), result.Rgba);
        Assert.Equal(["left0", "next"], executor.Ran);
        Assert.Equal(1, executor.CancelledWhileRunning);
    }

    [Fact]
    public async Task ThirtyTwoConcurrentClients()
    {
        var executor = new FakeExecutor { StepDelay = TimeSpan.Zero };
        await using var host = new TestServer(executor);
        var clients = await Task.WhenAll(Enumerable.Range(0, 32).Select(_ => host.ConnectAsync()));
        Assert.Equal(32, host.Server.ConnectionCount);
        var results = await Task.WhenAll(clients.SelectMany((c, i) => Enumerable.Range(0, 3).Select(async j =>
        {
            var r = await c.GenerateAsync(Request($"client {i} job {j}", i * 10 + j));
            return (i, j, r);
        })));
        foreach (var (i, j, r) in results) Assert.Equal(FakeExecutor.Image($"client {i} job {j}", i * 10 + j), r.Rgba);
        Assert.Equal(96, executor.Ran.Count);
        foreach (var c in clients) c.Dispose();
    }

    [Theory]
    [InlineData("long prompt", ErrorCodes.Limit)]
    [InlineData("huge size", ErrorCodes.Limit)]
    [InlineData("unknown sampler", ErrorCodes.InvalidRequest)]
    [InlineData("malformed image", ErrorCodes.InvalidRequest)]
    [InlineData("big image", ErrorCodes.Limit)]
    public async Task RequestsOutsideTheTransportLimitsGetAClearError(string what, string code)
    {
        var options = new BridgeOptions { MaxPromptLength = 50, MaxInputImageSide = 16 };
        await using var host = new TestServer(new FakeExecutor(), options);
        using var client = await host.ConnectAsync();
        var request = what switch
        {
            "long prompt" => Request(new string('x', 51)),
            "huge size" => new GenerateRequest { Prompt = "p", Width = 100_000, Height = 8 },
            "unknown sampler" => new GenerateRequest { Prompt = "p", Sampler = "nope" },
            "malformed image" => new GenerateRequest { Prompt = "p", StyleImage = new ImageData { Width = 2, Height = 2, Rgba = new byte[3] } },
            "big image" => new GenerateRequest { Prompt = "p", StyleImage = new ImageData { Width = 17, Height = 1, Rgba = new byte[68] } },
            _ => throw new ArgumentException(what),
        };
        var e = await Assert.ThrowsAsync<BridgeException>(() => client.GenerateAsync(request));
        Assert.Equal(code, e.Code);
        Assert.False(string.IsNullOrWhiteSpace(e.Message));
        Assert.True(client.IsConnected);
        Assert.NotNull(await client.GenerateAsync(Request("still fine")));
    }

    [Fact]
    public async Task QueueDepthIsLimitedPerClient()
    {
        var executor = new FakeExecutor { Gate = new ManualResetEventSlim(false) };
        await using var host = new TestServer(executor, new BridgeOptions { MaxJobsPerClient = 2 });
        using var client = await host.ConnectAsync();
        var jobs = new[] { client.GenerateAsync(Request("1")), client.GenerateAsync(Request("2")) };
        var e = await Assert.ThrowsAsync<BridgeException>(() => client.GenerateAsync(Request("3")));
        Assert.Equal(ErrorCodes.QueueFull, e.Code);
        executor.Gate.Set();
        await Task.WhenAll(jobs);
    }

    [Fact]
    public async Task WrongProtocolVersionHostNotRunningAndBadTokenGiveClearMessages()
    {
        await using var host = new TestServer(new FakeExecutor());
        var version = await Assert.ThrowsAsync<BridgeException>(() => BridgeClient.ConnectAsync(host.Endpoint, protocolVersion: 9, minProtocolVersion: 7));
        Assert.Equal(ErrorCodes.ProtocolVersion, version.Code);
        Assert.Contains("7 to 9", version.Message);
        Assert.Contains($"{BridgeProtocol.MinVersion} to {BridgeProtocol.Version}", version.Message);

        var missing = await Assert.ThrowsAsync<BridgeException>(() => BridgeClient.ConnectAsync(BridgeEndpoint.Unix(Path.Combine(host.Folder, "none.sock"))));
        Assert.Equal(ErrorCodes.HostNotRunning, missing.Code);
        Assert.Contains("serve", missing.Message);

        host.Server.ListenTcp(0, Path.Combine(host.Folder, "bridge.token"));
        var bad = await Assert.ThrowsAsync<BridgeException>(() => BridgeClient.ConnectAsync(BridgeEndpoint.Tcp(host.Server.TcpPort, "wrong")));
        Assert.Equal(ErrorCodes.Unauthorized, bad.Code);
        string token = File.ReadAllText(Path.Combine(host.Folder, "bridge.token"));
        using var good = await BridgeClient.ConnectAsync(BridgeEndpoint.Tcp(host.Server.TcpPort, token));
        Assert.Equal(FakeExecutor.Image("tcp", 1), (await good.GenerateAsync(Request("tcp"))).Rgba);
    }

    [Fact]
    public async Task SocketAndTokenAreOwnerOnly()
    {
        if (OperatingSystem.IsWindows()) return; // Windows: the per-user profile folder's ACL
        await using var host = new TestServer(new FakeExecutor());
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(host.SocketPath));
        Assert.Equal(BridgeSocketFiles.FolderMode, File.GetUnixFileMode(host.Folder));
        string tokenPath = Path.Combine(host.Folder, "bridge.token");
        host.Server.ListenTcp(0, tokenPath);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(tokenPath));

        // A folder open to others is refused; a missing one is created owner-only; a second host on the same socket is refused.
        var open = Directory.CreateTempSubdirectory("ediffi-open-").FullName;
        try
        {
            File.SetUnixFileMode(open, BridgeSocketFiles.FolderMode | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
            var e = Assert.Throws<UserException>(() => BridgeSocketFiles.BindUnix(Path.Combine(open, "b.sock")));
            Assert.Contains("open to other users", e.Message);
            string nested = Path.Combine(open, "made", "b.sock");
            File.SetUnixFileMode(open, BridgeSocketFiles.FolderMode);
            using (BridgeSocketFiles.BindUnix(nested)) Assert.Equal(BridgeSocketFiles.FolderMode, File.GetUnixFileMode(Path.GetDirectoryName(nested)!));
            var twice = Assert.Throws<UserException>(() => BridgeSocketFiles.BindUnix(host.SocketPath));
            Assert.Contains("already serving", twice.Message);
            string regular = Path.Combine(open, "file.txt");
            File.WriteAllText(regular, "keep me");
            Assert.Throws<UserException>(() => BridgeSocketFiles.BindUnix(regular));
            Assert.Equal("keep me", File.ReadAllText(regular));
        }
        finally
        {
            Directory.Delete(open, recursive: true);
        }
    }

    [Fact]
    public void UnwritableSocketFolderGivesAClearMessage()
    {
        if (OperatingSystem.IsWindows()) return; // the per-user profile folder is always the user's
        // Root writes through any permission bits, so as root the unwritable place is /proc, where no folder can be made.
        if (Environment.UserName == "root")
        {
            var e = Assert.Throws<UserException>(() => BridgeSocketFiles.BindUnix("/proc/ediffi-bridge-test/b.sock"));
            Assert.Contains("Cannot create the socket folder", e.Message);
            Assert.Contains("--socket", e.Message);
            return;
        }
        var folder = Directory.CreateTempSubdirectory("ediffi-ro-").FullName;
        File.SetUnixFileMode(folder, UnixFileMode.UserRead | UnixFileMode.UserExecute);
        try
        {
            var e = Assert.Throws<UserException>(() => BridgeSocketFiles.BindUnix(Path.Combine(folder, "b.sock")));
            Assert.Contains("not writable", e.Message);
        }
        finally
        {
            File.SetUnixFileMode(folder, BridgeSocketFiles.FolderMode);
            Directory.Delete(folder, recursive: true);
        }
    }
}

/// <summary>A client that speaks raw frames, for sending what the real client never would.</summary>
internal sealed class RawClient : IDisposable
{
    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly FrameReader _reader;
    private readonly FrameWriter _writer = new();

    private RawClient(Socket socket)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: true);
        _reader = new FrameReader(_stream, BridgeClient.MaxIncomingFrameBytes);
    }

    public NetworkStream Stream => _stream;

    public static async Task<RawClient> ConnectAsync(string path, bool hello = true)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(path));
        var client = new RawClient(socket);
        if (hello)
        {
            await client.SendAsync(new Hello { RequestId = 1 });
            Assert.IsType<Welcome>(await client.ReceiveAsync());
        }
        return client;
    }

    public async Task SendAsync(BridgeMessage message) => await _writer.WriteAsync(_stream, message, default);

    public async Task SendFrameAsync(byte[] payload)
    {
        var header = BitConverter.GetBytes(payload.Length);
        await _stream.WriteAsync(header);
        await _stream.WriteAsync(payload);
    }

    /// <summary>The next message, or null when the host closed the connection.</summary>
    public async Task<BridgeMessage?> ReceiveAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var frame = await _reader.ReadAsync(timeout.Token);
        if (frame is null) return null;
        return BridgeSerializer.TryRead(frame.Payload, out string? problem) ?? throw new InvalidDataException(problem);
    }

    public void Dispose() => _stream.Dispose();
}
