using System.Net;
using System.Net.Sockets;
using EDiffI.Bridge.Protocol;

namespace EDiffI.Host.Bridge;

/// <summary>
/// The bridge server: listens on a Unix domain socket (in a per-user folder, owner-only) and
/// optionally on loopback TCP (with a token), runs a connection per client and one job queue for
/// all of them.
/// </summary>
public sealed class BridgeServer : IAsyncDisposable
{
    /// <summary>Name and version sent in the handshake.</summary>
    public static readonly string SoftwareName = "EDiffI.Host " + typeof(BridgeServer).Assembly.GetName().Version;

    private readonly CancellationTokenSource _stopping = new();
    private readonly List<Socket> _listeners = [];
    private readonly List<Task> _acceptLoops = [];
    private readonly Dictionary<int, Task> _connections = [];
    private readonly List<(int AtMost, TaskCompletionSource Done)> _drainWaiters = [];
    private readonly Action<string>? _log;
    private string? _socketPath;
    private string? _tokenPath;
    private int _nextConnection;

    /// <summary>A server running jobs on <paramref name="executor"/>; call <see cref="ListenUnix"/> and/or <see cref="ListenTcp"/>.</summary>
    public BridgeServer(IJobExecutor executor, BridgeOptions options, IReadOnlyList<PluginSummary>? plugins = null, Action<string>? log = null)
    {
        Executor = executor;
        Options = options;
        Plugins = plugins ?? [];
        _log = log;
        Queue = new JobQueue(executor, options.MaxQueueDepth, options.MaxJobsPerClient, log);
    }

    /// <summary>The executor jobs run on.</summary>
    public IJobExecutor Executor { get; }

    /// <summary>The limits.</summary>
    public BridgeOptions Options { get; }

    /// <summary>The host's plugins, as listed to clients.</summary>
    public IReadOnlyList<PluginSummary> Plugins { get; }

    /// <summary>The queue shared by all connections.</summary>
    public JobQueue Queue { get; }

    /// <summary>The TCP token, once <see cref="ListenTcp"/> made one.</summary>
    public string? Token { get; private set; }

    /// <summary>The TCP port listened on (0 when none).</summary>
    public int TcpPort { get; private set; }

    /// <summary>Connections open now.</summary>
    public int ConnectionCount { get { lock (_connections) return _connections.Count; } }

    /// <summary>
    /// Completes once at most <paramref name="atMost"/> connections are open (at once when that holds
    /// already): a drain to wait on instead of polling <see cref="ConnectionCount"/>.
    /// </summary>
    public Task WhenConnectionsAtMostAsync(int atMost, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(atMost);
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_connections)
        {
            if (_connections.Count <= atMost) return Task.CompletedTask;
            _drainWaiters.Add((atMost, done));
        }
        return done.Task.WaitAsync(cancellationToken);
    }

    /// <summary>
    /// Listens on the Unix socket at <paramref name="path"/>. Its folder must be the user's own and
    /// closed to others (it is created so when missing); the socket file is made owner-only.
    /// </summary>
    /// <exception cref="Runtime.UserException">The folder cannot be made or is open to others, the path is too long, or another host listens there.</exception>
    public void ListenUnix(string path)
    {
        var socket = BridgeSocketFiles.BindUnix(path);
        _socketPath = path;
        Start(socket, needsToken: false);
        Log($"listening on {path}");
    }

    /// <summary>
    /// Listens on 127.0.0.1:<paramref name="port"/> (0 picks a free port, see <see cref="TcpPort"/>) and
    /// writes a fresh token to <paramref name="tokenPath"/>, readable by the user only.
    /// </summary>
    public void ListenTcp(int port, string tokenPath)
    {
        Token = BridgeSocketFiles.WriteToken(tokenPath);
        _tokenPath = tokenPath;
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.Bind(new IPEndPoint(IPAddress.Loopback, port));
            socket.Listen(128);
        }
        catch (SocketException e)
        {
            socket.Dispose();
            throw new Runtime.UserException($"Cannot listen on 127.0.0.1:{port} ({e.Message}); choose another --tcp port.", e);
        }
        TcpPort = ((IPEndPoint)socket.LocalEndPoint!).Port;
        Start(socket, needsToken: true);
        Log($"listening on tcp://127.0.0.1:{TcpPort} (token in {tokenPath})");
    }

    /// <summary>Waits until <paramref name="cancellationToken"/> is cancelled, then stops.</summary>
    public async Task RunUntilCancelledAsync(CancellationToken cancellationToken)
    {
        try
        {
            await Task.Delay(Timeout.Infinite, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Asked to stop.
        }
        await DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>Stops listening, closes every connection, stops the queue and removes the socket and token files.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_stopping.IsCancellationRequested) return;
        _stopping.Cancel();
        foreach (var listener in _listeners) listener.Dispose();
        Task[] running;
        lock (_connections) running = [.. _acceptLoops, .. _connections.Values];
        await Task.WhenAll(running).ConfigureAwait(false);
        Queue.Dispose();
        if (_socketPath is not null) BridgeSocketFiles.TryDelete(_socketPath);
        if (_tokenPath is not null) BridgeSocketFiles.TryDelete(_tokenPath);
        _stopping.Dispose();
    }

    internal void Log(string line) => _log?.Invoke(line);

    private void Start(Socket listener, bool needsToken)
    {
        _listeners.Add(listener);
        _acceptLoops.Add(Task.Run(() => AcceptLoopAsync(listener, needsToken)));
    }

    private async Task AcceptLoopAsync(Socket listener, bool needsToken)
    {
        while (!_stopping.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await listener.AcceptAsync(_stopping.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException e)
            {
                Log($"accept failed: {e.Message}");
                continue;
            }
            if (client.AddressFamily == AddressFamily.InterNetwork) client.NoDelay = true;
            int id = Interlocked.Increment(ref _nextConnection);
            lock (_connections)
            {
                if (_connections.Count >= Options.MaxConnections)
                {
                    _ = RefuseAsync(client);
                    continue;
                }
                var connection = new BridgeConnection(client, this, needsToken, id);
                _connections[id] = Task.Run(() => ServeAsync(connection));
            }
        }
    }

    private async Task ServeAsync(BridgeConnection connection)
    {
        try
        {
            await connection.RunAsync(_stopping.Token).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // one connection's failure must never reach the others or the server
        catch (Exception e)
#pragma warning restore CA1031
        {
            Log($"connection {connection.Id} failed: {e}");
        }
        finally
        {
            List<TaskCompletionSource> drained = [];
            lock (_connections)
            {
                _connections.Remove(connection.Id);
                foreach (var waiter in _drainWaiters.Where(w => _connections.Count <= w.AtMost)) drained.Add(waiter.Done);
                _drainWaiters.RemoveAll(w => _connections.Count <= w.AtMost);
            }
            foreach (var done in drained) done.TrySetResult();
        }
    }

    private async Task RefuseAsync(Socket client)
    {
        using var stream = new NetworkStream(client, ownsSocket: true);
        try
        {
            var busy = new BridgeError { Code = ErrorCodes.Busy, Message = $"The host serves {Options.MaxConnections} connections already; try again later." };
            await new FrameWriter().WriteAsync(stream, busy, _stopping.Token).ConfigureAwait(false);
            client.Shutdown(SocketShutdown.Both);
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // It left already.
        }
    }
}
