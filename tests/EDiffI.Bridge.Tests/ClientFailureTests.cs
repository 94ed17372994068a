using System.Net;
using System.Net.Sockets;
using EDiffI.Bridge.Protocol;

namespace EDiffI.Bridge.Tests;

/// <summary>
/// The client on each way a connection goes wrong: every one ends in a <see cref="BridgeException"/>
/// whose message says what to do, and none hangs (each wait is bounded by <see cref="Deadline"/>).
/// </summary>
public class ClientFailureTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task HostGoneMidJobFailsTheJobWithConnectionLost()
    {
        await using var host = new ScriptedHost();
        var connecting = BridgeClient.ConnectAsync(host.Endpoint);
        await host.AnswerHelloAsync().WaitAsync(Deadline);
        using var client = await connecting.WaitAsync(Deadline);

        var firstStep = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var job = client.GenerateAsync(new GenerateRequest { Prompt = "moss" }, progress: _ => firstStep.TrySetResult());
        var request = await host.ReceiveAsync().WaitAsync(Deadline);
        await host.SendAsync(new Accepted { RequestId = request.RequestId });
        await host.SendAsync(new Progress { RequestId = request.RequestId, Step = 0, Steps = 10, Sigma = 80 });
        await firstStep.Task.WaitAsync(Deadline);
        host.Crash(); // the host dies with the job running

        var e = await Assert.ThrowsAsync<BridgeException>(() => job.WaitAsync(Deadline));
        Assert.Equal(ErrorCodes.ConnectionLost, e.Code);
        Assert.Contains("closed the connection", e.Message);
        Assert.Contains("Start it again", e.Message);
        Assert.False(client.IsConnected);

        // Whatever comes next fails at once with the same reason, instead of waiting on a dead socket.
        var next = await Assert.ThrowsAsync<BridgeException>(() => client.ListAsync().WaitAsync(Deadline));
        Assert.Equal(ErrorCodes.ConnectionLost, next.Code);
    }

    [Fact]
    public async Task SilentListenerEndsInAHandshakeTimeout()
    {
        await using var host = new ScriptedHost(); // accepts, reads nothing, answers nothing
        var e = await Assert.ThrowsAsync<BridgeException>(() => BridgeClient.ConnectAsync(host.Endpoint, TimeSpan.FromSeconds(1)).WaitAsync(Deadline));
        Assert.Equal(ErrorCodes.Handshake, e.Code);
        Assert.Contains("did not answer the handshake within 1 s", e.Message);
        Assert.Contains("Restart the host", e.Message);
    }

    [Fact]
    public async Task HandshakeCancelledByTheCallerIsACancellationNotATimeout()
    {
        await using var host = new ScriptedHost();
        using var cancel = new CancellationTokenSource();
        var connecting = BridgeClient.ConnectAsync(host.Endpoint, TimeSpan.FromSeconds(60), cancel.Token);
        await host.ReceiveAsync().WaitAsync(Deadline); // the Hello arrived; nobody answers it
        cancel.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => connecting.WaitAsync(Deadline));
    }

    [Fact]
    public async Task RefusedConnectionsSayHowToStartAHost()
    {
        // A TCP port nothing listens on (taken and released at once).
        int port;
        using (var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            port = ((IPEndPoint)probe.LocalEndPoint!).Port;
        }
        var tcp = await Assert.ThrowsAsync<BridgeException>(() => BridgeClient.ConnectAsync(BridgeEndpoint.Tcp(port, "token")).WaitAsync(Deadline));
        Assert.Equal(ErrorCodes.HostNotRunning, tcp.Code);
        Assert.Contains($"serve --tcp {port}", tcp.Message);

        // A file where the socket should be and nobody listening, as a killed host leaves it (.NET
        // removes the file of a Unix socket it disposes, so a plain file stands in for the stale one).
        var folder = Directory.CreateTempSubdirectory("ediffi-refused-").FullName;
        try
        {
            string stale = Path.Combine(folder, "b.sock");
            File.WriteAllText(stale, "");
            var unix = await Assert.ThrowsAsync<BridgeException>(() => BridgeClient.ConnectAsync(BridgeEndpoint.Unix(stale)).WaitAsync(Deadline));
            Assert.Equal(ErrorCodes.HostNotRunning, unix.Code);
            Assert.Contains("left over", unix.Message);
            Assert.Contains("serve", unix.Message);

            // TCP without a token file: no host runs on TCP as this user.
            var noToken = await Assert.ThrowsAsync<BridgeException>(() =>
                BridgeClient.ConnectAsync(BridgeEndpoint.Tcp(port, tokenPath: Path.Combine(folder, "bridge.token"))).WaitAsync(Deadline));
            Assert.Equal(ErrorCodes.HostNotRunning, noToken.Code);
            Assert.Contains("no token file", noToken.Message);
            Assert.Contains($"serve --tcp {port}", noToken.Message);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public async Task WrongTokenFromTheTokenFileIsRefusedWithWhatToDo()
    {
        await using var host = new TestServer(new FakeExecutor());
        string hostToken = Path.Combine(host.Folder, "bridge.token");
        host.Server.ListenTcp(0, hostToken);
        // A token file of an earlier run, somewhere else.
        string stale = Path.Combine(host.Folder, "old.token");
        File.WriteAllText(stale, "0123456789ABCDEF");
        var e = await Assert.ThrowsAsync<BridgeException>(() =>
            BridgeClient.ConnectAsync(BridgeEndpoint.Tcp(host.Server.TcpPort, tokenPath: stale)).WaitAsync(Deadline));
        Assert.Equal(ErrorCodes.Unauthorized, e.Code);
        Assert.Contains(stale, e.Message);
        Assert.Contains("restart the host", e.Message);

        File.WriteAllText(stale, "");
        var empty = await Assert.ThrowsAsync<BridgeException>(() =>
            BridgeClient.ConnectAsync(BridgeEndpoint.Tcp(host.Server.TcpPort, tokenPath: stale)).WaitAsync(Deadline));
        Assert.Contains("is empty", empty.Message);

        // The file the host wrote works.
        using var good = await BridgeClient.ConnectAsync(BridgeEndpoint.Tcp(host.Server.TcpPort, tokenPath: hostToken)).WaitAsync(Deadline);
        Assert.Equal(FakeExecutor.Image("tcp", 3), (await good.GenerateAsync(new GenerateRequest { Prompt = "tcp", Seed = 3 }).WaitAsync(Deadline)).Rgba);
    }

    [Fact]
    public async Task DisposingDuringAJobEndsItAndCancellingAfterwardsIsHarmless()
    {
        var executor = new FakeExecutor { Gate = new ManualResetEventSlim(false) };
        await using var host = new TestServer(executor);
        var client = await host.ConnectAsync().WaitAsync(Deadline);
        using var cancel = new CancellationTokenSource();
        var job = client.GenerateAsync(new GenerateRequest { Prompt = "held" }, cancellationToken: cancel.Token);
        Assert.True(executor.Started.Wait(Deadline));
        client.Dispose(); // as an editor window closing does, while the job runs
        cancel.Cancel();   // and its cancel button's token fires afterwards
        var e = await Assert.ThrowsAsync<BridgeException>(() => job.WaitAsync(Deadline));
        Assert.Equal(ErrorCodes.ConnectionLost, e.Code);
        client.Dispose(); // twice is fine
        executor.Gate.Set();
        await host.Server.WhenConnectionsAtMostAsync(0).WaitAsync(Deadline); // the host saw the client leave
    }
}

/// <summary>
/// A host that does only what a test tells it, on a Unix socket: for silences and crashes a real host
/// never produces on purpose.
/// </summary>
internal sealed class ScriptedHost : IAsyncDisposable
{
    private readonly Socket _listener;
    private readonly Task<Socket> _accepted;
    private readonly FrameWriter _writer = new();
    private FrameReader? _reader;
    private NetworkStream? _stream;

    public ScriptedHost()
    {
        Folder = Directory.CreateTempSubdirectory("ediffi-scripted-").FullName;
        string path = Path.Combine(Folder, "b.sock");
        _listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        _listener.Bind(new UnixDomainSocketEndPoint(path));
        _listener.Listen(1);
        _accepted = _listener.AcceptAsync();
        Endpoint = BridgeEndpoint.Unix(path);
    }

    public string Folder { get; }

    public BridgeEndpoint Endpoint { get; }

    /// <summary>Reads the Hello and answers with a Welcome.</summary>
    public async Task AnswerHelloAsync()
    {
        var hello = Assert.IsType<Hello>(await ReceiveAsync());
        await SendAsync(new Welcome { RequestId = hello.RequestId, ProtocolVersion = BridgeProtocol.Version, Capabilities = [Capabilities.Generate] });
    }

    public async Task<BridgeMessage> ReceiveAsync()
    {
        var stream = await StreamAsync();
        _reader ??= new FrameReader(stream, 1 << 20);
        using var frame = await _reader.ReadAsync(CancellationToken.None) ?? throw new EndOfStreamException("the client closed the connection");
        return BridgeSerializer.TryRead(frame.Payload, out string? problem) ?? throw new InvalidDataException(problem);
    }

    public async Task SendAsync(BridgeMessage message) => await _writer.WriteAsync(await StreamAsync(), message, CancellationToken.None);

    /// <summary>Drops the connection the way a dying process does: no goodbye, the socket just closes.</summary>
    public void Crash()
    {
        _stream?.Dispose();
        _listener.Dispose();
    }

    public async ValueTask DisposeAsync()
    {
        Crash();
        if (_accepted.IsCompletedSuccessfully) (await _accepted).Dispose();
        try { Directory.Delete(Folder, recursive: true); } catch (IOException) { }
    }

    private async Task<NetworkStream> StreamAsync() => _stream ??= new NetworkStream(await _accepted, ownsSocket: true);
}
