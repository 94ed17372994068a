using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;
using EDiffI.Host.Runtime;

namespace EDiffI.Host.Training.Distributed;

/// <summary>
/// The meeting of the ranks of a distributed run over TCP, on MASTER_ADDR:MASTER_PORT: rank 0 listens, every other rank
/// connects and says who it is, and once all have come rank 0 hands each the same payload (NCCL's 128-byte unique id).
/// Everything waits at most a timeout and fails with a message that names the missing ranks or the unreachable address.
/// The connections then stay open as a liveness channel (<see cref="Watch"/>): a rank that dies closes its socket, rank 0
/// tells the others, and every rank learns within moments that the run is over instead of waiting in a collective.
/// A clean end is a goodbye (<see cref="Leave"/>), so only a rank that vanishes counts as a failure.
/// </summary>
public sealed class Rendezvous : IDisposable
{
    /// <summary>How long ranks wait for each other at the start (they may load data and libraries at different speeds).</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromMinutes(5);

    private const uint Magic = 0x45444450; // "EDDP"
    private const byte Ok = (byte)'K', Error = (byte)'E', Bye = (byte)'B', Abort = (byte)'A';

    private readonly Dictionary<int, Socket> _peers; // rank 0: every other rank's socket; others: { 0: rank 0's }
    private readonly Dictionary<int, ManualResetEventSlim> _saidBye = [];
    private readonly object _lock = new();
    private Action<string>? _onFailure;
    private volatile bool _leaving, _disposed;
    private bool _failed;

    private Rendezvous(int rank, int worldSize, Dictionary<int, Socket> peers, byte[] payload)
    {
        Rank = rank;
        WorldSize = worldSize;
        _peers = peers;
        Payload = payload;
        foreach (var r in peers.Keys) _saidBye[r] = new ManualResetEventSlim();
    }

    /// <summary>This rank.</summary>
    public int Rank { get; }

    /// <summary>Number of ranks.</summary>
    public int WorldSize { get; }

    /// <summary>What rank 0 handed to every rank.</summary>
    public byte[] Payload { get; }

    /// <summary>Starts listening for the other ranks on <paramref name="port"/> (0 picks a free port; see <see cref="TcpListener.LocalEndpoint"/>).</summary>
    public static TcpListener Listen(int port, IPAddress? address = null)
    {
        var listener = new TcpListener(address ?? IPAddress.Any, port);
        try
        {
            listener.Start(backlog: 1024);
        }
        catch (SocketException e)
        {
            throw new UserException($"Rank 0 cannot listen on port {port} (MASTER_PORT): {e.Message}. Pick a free port.", e);
        }
        return listener;
    }

    /// <summary>
    /// Rank 0: waits until ranks 1 … <paramref name="worldSize"/> − 1 have connected to <paramref name="listener"/>, at most
    /// <paramref name="timeout"/>, then sends each <paramref name="payload"/>. The listener is stopped afterwards.
    /// </summary>
    public static Rendezvous Root(TcpListener listener, int worldSize, byte[] payload, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        var peers = new Dictionary<int, Socket>();
        try
        {
            while (peers.Count < worldSize - 1)
            {
                Socket socket;
                try
                {
                    socket = listener.AcceptSocketAsync(cts.Token).AsTask().GetAwaiter().GetResult();
                }
                catch (OperationCanceledException)
                {
                    var missing = Enumerable.Range(1, worldSize - 1).Where(r => !peers.ContainsKey(r));
                    throw new UserException($"Rank 0 waited {timeout.TotalSeconds:0.#} s for {worldSize - 1} other ranks on port {((IPEndPoint)listener.LocalEndpoint).Port}; " +
                                            $"rank(s) {string.Join(", ", missing)} never came. Check that every rank runs with the same MASTER_ADDR, MASTER_PORT and WORLD_SIZE and that the port is reachable.");
                }
                Configure(socket);
                var hello = new byte[16];
                try
                {
                    ReadExactly(socket, hello, cts.Token);
                }
                catch (Exception e) when (e is OperationCanceledException or IOException or SocketException)
                {
                    socket.Dispose(); // not one of ours, or it died while saying hello: keep waiting for the real ranks
                    continue;
                }
                uint magic = BinaryPrimitives.ReadUInt32LittleEndian(hello);
                int rank = BinaryPrimitives.ReadInt32LittleEndian(hello.AsSpan(8)), world = BinaryPrimitives.ReadInt32LittleEndian(hello.AsSpan(12));
                string? problem = magic != Magic ? "it is not a rank of this program"
                    : world != worldSize ? $"it says WORLD_SIZE={world}, rank 0 has {worldSize}"
                    : rank < 1 || rank >= worldSize ? $"its rank {rank} is outside 1 … {worldSize - 1}"
                    : peers.ContainsKey(rank) ? $"rank {rank} has already joined (two processes with the same RANK)" : null;
                if (problem is not null)
                {
                    Send(socket, Error, Encoding.UTF8.GetBytes(problem));
                    socket.Dispose();
                    if (magic != Magic) continue;
                    throw new UserException($"A process that joined the rendezvous was refused: {problem}.");
                }
                peers[rank] = socket;
            }
            foreach (var socket in peers.Values) Send(socket, Ok, payload);
        }
        catch
        {
            foreach (var s in peers.Values) s.Dispose();
            throw;
        }
        finally
        {
            listener.Stop();
        }
        return new Rendezvous(0, worldSize, peers, payload);
    }

    /// <summary>
    /// Rank <paramref name="rank"/> (not 0): connects to rank 0 at <paramref name="host"/>:<paramref name="port"/>, trying
    /// again while it is not up yet, and waits for the payload, all within <paramref name="timeout"/>.
    /// </summary>
    public static Rendezvous Peer(string host, int port, int rank, int worldSize, TimeSpan timeout)
    {
        if (rank < 1 || rank >= worldSize) throw new ArgumentOutOfRangeException(nameof(rank), $"a peer's rank lies in 1 … {worldSize - 1}");
        using var cts = new CancellationTokenSource(timeout);
        Socket? socket = null;
        string lastError = "no answer";
        while (socket is null)
        {
            var attempt = new Socket(SocketType.Stream, ProtocolType.Tcp);
            try
            {
                attempt.ConnectAsync(host, port, cts.Token).AsTask().GetAwaiter().GetResult();
                socket = attempt;
            }
            catch (OperationCanceledException)
            {
                attempt.Dispose();
                throw new UserException($"Rank {rank} could not reach rank 0 at {host}:{port} (MASTER_ADDR:MASTER_PORT) within {timeout.TotalSeconds:0.#} s ({lastError}). Is rank 0 running, and is the address right?");
            }
            catch (SocketException e)
            {
                attempt.Dispose();
                lastError = e.Message;
                // Rank 0 may not be listening yet: try again shortly, until the deadline.
                if (cts.Token.WaitHandle.WaitOne(TimeSpan.FromMilliseconds(200))) continue;
            }
        }
        try
        {
            Configure(socket);
            var hello = new byte[16];
            BinaryPrimitives.WriteUInt32LittleEndian(hello, Magic);
            BinaryPrimitives.WriteInt32LittleEndian(hello.AsSpan(4), 1);
            BinaryPrimitives.WriteInt32LittleEndian(hello.AsSpan(8), rank);
            BinaryPrimitives.WriteInt32LittleEndian(hello.AsSpan(12), worldSize);
            socket.Send(hello);
            var (kind, body) = Receive(socket, cts.Token);
            if (kind == Error) throw new UserException($"Rank 0 refused rank {rank}: {Encoding.UTF8.GetString(body)}.");
            if (kind != Ok) throw new UserException($"Rank 0 at {host}:{port} answered rank {rank} with something this program does not speak.");
            return new Rendezvous(rank, worldSize, new Dictionary<int, Socket> { [0] = socket }, body);
        }
        catch (OperationCanceledException)
        {
            socket.Dispose();
            throw new UserException($"Rank {rank} reached {host}:{port} but rank 0 did not hand out the run's id within {timeout.TotalSeconds:0.#} s: some other rank has not joined.");
        }
        catch (Exception e) when (e is IOException or SocketException)
        {
            socket.Dispose();
            throw new UserException($"Rank {rank} lost the connection to rank 0 at {host}:{port} during the rendezvous ({e.Message}).", e);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Watches the connections from now on: <paramref name="onFailure"/> is called once, from a background thread, with a
    /// message when a rank vanishes without a goodbye or reports a failure. Rank 0 passes a failure on to every other rank.
    /// </summary>
    public void Watch(Action<string> onFailure)
    {
        _onFailure = onFailure;
        foreach (var (rank, socket) in _peers)
        {
            var thread = new Thread(() => WatchOne(rank, socket)) { IsBackground = true, Name = $"rendezvous watch {rank}" };
            thread.Start();
        }
    }

    private void WatchOne(int rank, Socket socket)
    {
        string reason;
        try
        {
            while (true)
            {
                var (kind, body) = Receive(socket, CancellationToken.None);
                if (kind == Bye)
                {
                    _saidBye[rank].Set();
                    return;
                }
                if (kind == Abort)
                {
                    reason = Encoding.UTF8.GetString(body);
                    break;
                }
            }
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or EndOfStreamException)
        {
            if (_disposed) return;
            if (_leaving && Rank != 0) { _saidBye[rank].Set(); return; } // rank 0 closed after our goodbye
            reason = Rank == 0 ? $"rank {rank} stopped without a goodbye (it died or was killed)" : "the connection to rank 0 broke (rank 0 died or was killed)";
        }
        _saidBye[rank].Set();
        Fail(reason);
    }

    /// <summary>
    /// Reports a failure of this run to the others (rank 0 tells every rank; another rank tells rank 0, which tells the
    /// rest), and to this rank's <see cref="Watch"/> callback. Only the first failure counts.
    /// </summary>
    public void Fail(string reason)
    {
        Action<string>? callback;
        lock (_lock)
        {
            if (_failed) return;
            _failed = true;
            callback = _onFailure;
        }
        var body = Encoding.UTF8.GetBytes(Rank == 0 ? reason : $"rank {Rank}: {reason}");
        foreach (var socket in _peers.Values)
        {
            try { Send(socket, Abort, body); }
            catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException) { } // that one is gone already
        }
        callback?.Invoke(reason);
    }

    /// <summary>
    /// Ends cleanly: every other rank says goodbye to rank 0 and waits for its answer; rank 0 answers once all have said
    /// it (at most <paramref name="timeout"/>), so no rank's end looks like a death to the others.
    /// </summary>
    public void Leave(TimeSpan timeout)
    {
        _leaving = true;
        if (Rank != 0) Send(_peers[0], Bye, []);
        var deadline = DateTime.UtcNow + timeout;
        foreach (var (rank, said) in _saidBye)
        {
            var left = deadline - DateTime.UtcNow;
            if (!said.Wait(left > TimeSpan.Zero ? left : TimeSpan.Zero) && Rank == 0)
                throw new UserException($"Rank {rank} did not finish within {timeout.TotalSeconds:0} s of rank 0.");
        }
        if (Rank == 0)
            foreach (var socket in _peers.Values)
            {
                try { Send(socket, Bye, []); }
                catch (Exception e) when (e is IOException or SocketException) { }
            }
    }

    private static void Configure(Socket socket)
    {
        socket.NoDelay = true;
        // A machine that vanishes sends no FIN: keep-alive probes notice it within about 20 s.
        socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive, true);
        socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveTime, 10);
        socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveInterval, 3);
        socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveRetryCount, 3);
    }

    // A message: one kind byte, a 4-byte length, the body.
    private static void Send(Socket socket, byte kind, byte[] body)
    {
        var message = new byte[5 + body.Length];
        message[0] = kind;
        BinaryPrimitives.WriteInt32LittleEndian(message.AsSpan(1), body.Length);
        body.CopyTo(message, 5);
        lock (socket) socket.Send(message);
    }

    private static (byte Kind, byte[] Body) Receive(Socket socket, CancellationToken token)
    {
        var head = new byte[5];
        ReadExactly(socket, head, token);
        int length = BinaryPrimitives.ReadInt32LittleEndian(head.AsSpan(1));
        if (length is < 0 or > 1 << 20) throw new IOException($"a message of {length} bytes is not one of ours");
        var body = new byte[length];
        ReadExactly(socket, body, token);
        return (head[0], body);
    }

    private static void ReadExactly(Socket socket, byte[] buffer, CancellationToken token)
    {
        int read = 0;
        while (read < buffer.Length)
        {
            int n = socket.ReceiveAsync(buffer.AsMemory(read), SocketFlags.None, token).AsTask().GetAwaiter().GetResult();
            if (n == 0) throw new EndOfStreamException("the other side closed the connection");
            read += n;
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _disposed = _leaving = true;
        foreach (var socket in _peers.Values) socket.Dispose();
    }
}
