using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.IO;
using System.Net;
using System.Net.Sockets;
using System.Threading;
using System.Threading.Tasks;
using EDiffI.Bridge.Protocol;

namespace EDiffI.Bridge;

/// <summary>
/// A connection to an EDiffI host. Connect with <see cref="ConnectAsync(BridgeEndpoint?, CancellationToken)"/>, then list what the host
/// offers and generate images; several requests may be in flight at once. Callbacks (progress,
/// acceptance) run on the connection's reading thread: keep them short, and hand work for an
/// engine's main thread over to it.
/// </summary>
public sealed class BridgeClient : IDisposable
{
    /// <summary>Largest frame the client accepts from a host (a 4096² RGBA8 image and its settings fit).</summary>
    public const int MaxIncomingFrameBytes = 80 * 1024 * 1024;

    /// <summary>How long a host has to answer the Hello unless a connect call says otherwise.</summary>
    public static readonly TimeSpan DefaultHandshakeTimeout = TimeSpan.FromSeconds(30);

    private static readonly string SoftwareName = "EDiffI.Bridge.Client " + typeof(BridgeClient).Assembly.GetName().Version;

    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly FrameWriter _writer = new();
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly ConcurrentDictionary<int, Operation> _pending = new();
    private readonly CancellationTokenSource _closing = new();
    private readonly string _endpointText;
    private int _nextId;
    private Welcome? _welcome;
    private Exception? _closedBecause;

    private BridgeClient(Socket socket, string endpointText)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: false);
        _endpointText = endpointText;
    }

    /// <summary>What the host said in the handshake: protocol version, capabilities, limits, model.</summary>
    public Welcome Server => _welcome ?? throw new InvalidOperationException("not connected");

    /// <summary>True when the host lists <paramref name="capability"/> (see <see cref="Protocol.Capabilities"/>).</summary>
    public bool HasCapability(string capability) => Server.Capabilities.Contains(capability);

    /// <summary>True until the connection closes.</summary>
    public bool IsConnected => _closedBecause is null;

    /// <summary>
    /// Connects to a host (by default at <see cref="BridgeEndpoint.Default"/>: the Unix socket at
    /// <see cref="BridgeEndpoint.DefaultSocketPath"/>, or on Windows loopback TCP port
    /// <see cref="BridgeEndpoint.DefaultTcpPort"/>) and completes the handshake.
    /// </summary>
    /// <exception cref="BridgeException">No host is running there (<see cref="ErrorCodes.HostNotRunning"/>), the host speaks
    /// another protocol version (<see cref="ErrorCodes.ProtocolVersion"/>), the token is wrong (<see cref="ErrorCodes.Unauthorized"/>),
    /// the host did not answer the handshake in time (<see cref="ErrorCodes.Handshake"/>), or the host refused.</exception>
    public static Task<BridgeClient> ConnectAsync(BridgeEndpoint? endpoint = null, CancellationToken cancellationToken = default) =>
        ConnectAsync(endpoint ?? BridgeEndpoint.Default(), BridgeProtocol.Version, BridgeProtocol.MinVersion, DefaultHandshakeTimeout, cancellationToken);

    /// <summary>As <see cref="ConnectAsync(BridgeEndpoint?, CancellationToken)"/>, giving the host <paramref name="handshakeTimeout"/> to answer.</summary>
    /// <exception cref="BridgeException">As <see cref="ConnectAsync(BridgeEndpoint?, CancellationToken)"/>.</exception>
    public static Task<BridgeClient> ConnectAsync(BridgeEndpoint endpoint, TimeSpan handshakeTimeout, CancellationToken cancellationToken = default) =>
        ConnectAsync(endpoint, BridgeProtocol.Version, BridgeProtocol.MinVersion, handshakeTimeout, cancellationToken);

    /// <summary>Connects offering protocol versions <paramref name="minProtocolVersion"/> to <paramref name="protocolVersion"/>.</summary>
    /// <exception cref="BridgeException">As <see cref="ConnectAsync(BridgeEndpoint?, CancellationToken)"/>.</exception>
    public static Task<BridgeClient> ConnectAsync(BridgeEndpoint endpoint, int protocolVersion, int minProtocolVersion,
        CancellationToken cancellationToken = default) =>
        ConnectAsync(endpoint, protocolVersion, minProtocolVersion, DefaultHandshakeTimeout, cancellationToken);

    private static async Task<BridgeClient> ConnectAsync(BridgeEndpoint endpoint, int protocolVersion, int minProtocolVersion,
        TimeSpan handshakeTimeout, CancellationToken cancellationToken)
    {
        if (endpoint is null) throw new ArgumentNullException(nameof(endpoint));
        cancellationToken.ThrowIfCancellationRequested();
        // Read the token first: a missing file says more than a refused handshake would.
        string? token = endpoint.Transport == BridgeTransport.Tcp ? endpoint.Token ?? ReadToken(endpoint) : null;
        var socket = await OpenSocketAsync(endpoint).ConfigureAwait(false);
        var client = new BridgeClient(socket, endpoint.ToString());
        try
        {
            client.StartReading();
            var hello = new Hello
            {
                ProtocolVersion = protocolVersion,
                MinProtocolVersion = minProtocolVersion,
                Software = SoftwareName,
                Token = token,
                Capabilities = new List<string> { Capabilities.Preview },
            };
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(handshakeTimeout);
            Welcome welcome;
            try
            {
                welcome = await client.RequestAsync<Welcome>(hello, timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
            {
                throw new BridgeException(ErrorCodes.Handshake,
                    $"Something accepted the connection at {endpoint} but did not answer the handshake within {handshakeTimeout.TotalSeconds:0.#} s: " +
                    "it is not an EDiffI host, or the host is stuck. Restart the host, or choose another port or socket.", e);
            }
            catch (BridgeException e) when (e.Code == ErrorCodes.Unauthorized && token is not null)
            {
                string source = endpoint.Token is null ? $"the token read from {endpoint.TokenPath}" : "the token given";
                throw new BridgeException(ErrorCodes.Unauthorized,
                    $"The host at {endpoint} refused {source}. That token belongs to another host or an earlier run: restart the host " +
                    "(it writes a fresh token file), or point the token file setting at the file this host wrote. The host said: " + e.Message, e);
            }
            if (welcome.ProtocolVersion < minProtocolVersion || welcome.ProtocolVersion > protocolVersion)
                throw new BridgeException(ErrorCodes.ProtocolVersion,
                    $"The host at {endpoint} chose protocol version {welcome.ProtocolVersion}; this client speaks {minProtocolVersion} to {protocolVersion}. Update the client or the host so they match.");
            client._welcome = welcome;
            return client;
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }

    /// <summary>Lists the host's models, samplers and plugins.</summary>
    public Task<ListReply> ListAsync(CancellationToken cancellationToken = default) =>
        RequestAsync<ListReply>(new ListRequest(), cancellationToken);

    /// <summary>
    /// Generates an image. <paramref name="progress"/> gets one message per sampler step (with a
    /// preview when <see cref="GenerateRequest.PreviewSize"/> is set). Cancelling
    /// <paramref name="cancellationToken"/> asks the host to drop the job (from its queue, or between
    /// two evaluations) and ends in <see cref="OperationCanceledException"/> once the host confirms.
    /// The request's <see cref="BridgeMessage.RequestId"/> is assigned here.
    /// </summary>
    /// <exception cref="BridgeException">The host refused or failed the request (see <see cref="BridgeException.Code"/>), or the connection was lost.</exception>
    public async Task<GenerateResult> GenerateAsync(GenerateRequest request, Action<Progress>? progress = null,
        Action<Accepted>? accepted = null, CancellationToken cancellationToken = default)
    {
        if (request is null) throw new ArgumentNullException(nameof(request));
        cancellationToken.ThrowIfCancellationRequested();
        var job = new JobOperation(progress, accepted);
        int id = Register(job);
        request.RequestId = id;
        using (cancellationToken.Register(() => _ = SendCancelAsync(id, job)))
        {
            await SendAsync(request, id).ConfigureAwait(false);
            try
            {
                return await job.Task.ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                throw new OperationCanceledException("The generation was cancelled.", cancellationToken);
            }
        }
    }

    /// <summary>Closes the connection; operations still waiting fail with <see cref="ErrorCodes.ConnectionLost"/>. Safe to call from any thread, more than once.</summary>
    public void Dispose()
    {
        Close(new BridgeException(ErrorCodes.ConnectionLost, "The client was disposed."));
        _stream.Dispose();
        _socket.Dispose();
        // _writeLock and _closing stay undisposed: a cancellation callback or the reading thread may still
        // touch them after Dispose returns, and neither holds anything the collector cannot take.
    }

    private static async Task<Socket> OpenSocketAsync(BridgeEndpoint endpoint)
    {
        Socket? socket = null;
        try
        {
            EndPoint target;
            if (endpoint.SocketPath is { } path)
            {
                socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                target = new UnixDomainSocketEndPoint(path);
            }
            else
            {
                socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                target = new IPEndPoint(IPAddress.Loopback, endpoint.TcpPort);
            }
            await socket.ConnectAsync(target).ConfigureAwait(false);
            return socket;
        }
        catch (SocketException e)
        {
            socket?.Dispose();
            throw ConnectFailure(endpoint, e);
        }
        catch (NotSupportedException e) when (endpoint.SocketPath is not null)
        {
            // Mono (the Unity editor) on Windows has no Unix domain sockets (PlatformNotSupportedException is one of these).
            socket?.Dispose();
            throw NoUnixSockets(e);
        }
    }

    private static BridgeException NoUnixSockets(Exception e) => new(ErrorCodes.Unsupported,
        $"This runtime cannot open Unix domain sockets ({e.Message}). Choose the TCP transport (the default on Windows) and start the host with `serve --tcp {BridgeEndpoint.DefaultTcpPort}`.", e);

    private static BridgeException ConnectFailure(BridgeEndpoint endpoint, SocketException e)
    {
        const string start = "Start one with `dotnet run --project Host -- serve` (or the Unity window's Start host button).";
        if (endpoint.SocketPath is { } path)
        {
            if (e.SocketErrorCode is SocketError.AddressFamilyNotSupported or SocketError.ProtocolNotSupported or SocketError.OperationNotSupported)
                return NoUnixSockets(e);
            if (!File.Exists(path))
                return new BridgeException(ErrorCodes.HostNotRunning, $"No EDiffI host is running: there is no socket at {path}. {start}", e);
            if (e.SocketErrorCode == SocketError.TryAgain || e.SocketErrorCode == SocketError.WouldBlock)
                return new BridgeException(ErrorCodes.Busy, $"The host at {path} is not accepting connections right now (its queue of new connections is full); try again shortly.", e);
            if (e.SocketErrorCode == SocketError.AccessDenied)
                return new BridgeException(ErrorCodes.HostNotRunning, $"Permission denied opening {path}: the socket belongs to another user.", e);
            return new BridgeException(ErrorCodes.HostNotRunning, $"No EDiffI host is listening at {path} (the socket file is left over from a host that stopped). {start}", e);
        }
        return new BridgeException(ErrorCodes.HostNotRunning,
            $"No EDiffI host is listening on 127.0.0.1:{endpoint.TcpPort} ({e.SocketErrorCode}). Start one with `serve --tcp {endpoint.TcpPort}` (or the Unity window's Start host button), or check the port.", e);
    }

    private static string ReadToken(BridgeEndpoint endpoint)
    {
        string path = endpoint.TokenPath ?? BridgeEndpoint.DefaultTokenPath();
        string start = $"Start the host with `serve --tcp {endpoint.TcpPort}` as this user (it writes the token file), or point the token file setting at the file it wrote.";
        if (!File.Exists(path))
            throw new BridgeException(ErrorCodes.HostNotRunning, $"TCP needs the host's token, but there is no token file at {path}: no host is listening on TCP as this user. {start}");
        try
        {
            string token = File.ReadAllText(path).Trim();
            if (token.Length == 0) throw new BridgeException(ErrorCodes.Unauthorized, $"The token file {path} is empty. {start}");
            return token;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new BridgeException(ErrorCodes.Unauthorized, $"TCP needs the host's token, but {path} could not be read ({e.Message}). {start}", e);
        }
    }

    private int Register(Operation operation)
    {
        if (_closedBecause is { } reason) throw Closed(reason);
        int id = Interlocked.Increment(ref _nextId);
        _pending[id] = operation;
        // Closing may have raced with registration: fail the operation rather than leave it waiting.
        if (_closedBecause is { } late && _pending.TryRemove(id, out _)) throw Closed(late);
        return id;
    }

    private async Task<T> RequestAsync<T>(BridgeMessage message, CancellationToken cancellationToken) where T : BridgeMessage
    {
        var operation = new ReplyOperation<T>();
        int id = Register(operation);
        message.RequestId = id;
        using (cancellationToken.Register(() => { if (_pending.TryRemove(id, out _)) operation.Fail(new OperationCanceledException(cancellationToken)); }))
        {
            await SendAsync(message, id).ConfigureAwait(false);
            return await operation.Task.ConfigureAwait(false);
        }
    }

    private async Task SendAsync(BridgeMessage message, int id)
    {
        if (_closedBecause is { } closed) throw Closed(closed);
        await _writeLock.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_closedBecause is { } reason) throw Closed(reason);
            await _writer.WriteAsync(_stream, message, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or SocketException)
        {
            var lost = new BridgeException(ErrorCodes.ConnectionLost, $"The connection to the host at {_endpointText} was lost while sending.", e);
            if (_pending.TryRemove(id, out var operation)) operation.Fail(lost);
            Close(lost);
            throw lost;
        }
        finally
        {
            _writeLock.Release();
        }
    }

    private async Task SendCancelAsync(int id, JobOperation job)
    {
        if (job.Task.IsCompleted || _closedBecause is not null) return;
        try
        {
            await SendAsync(new Cancel { RequestId = id }, id: 0).ConfigureAwait(false);
        }
        catch (BridgeException)
        {
            // The connection is gone; the job already failed with the reason.
        }
    }

    private void StartReading() => _ = Task.Run(ReadLoopAsync);

    private async Task ReadLoopAsync()
    {
        var reader = new FrameReader(_stream, MaxIncomingFrameBytes);
        Exception reason;
        try
        {
            while (true)
            {
                using var frame = await reader.ReadAsync(_closing.Token).ConfigureAwait(false);
                if (frame is null)
                {
                    reason = new BridgeException(ErrorCodes.ConnectionLost,
                        $"The host at {_endpointText} closed the connection: it stopped or crashed (its console says why). Start it again, connect, and retry.");
                    break;
                }
                var message = BridgeSerializer.TryRead(frame.Payload, out string? problem);
                if (message is null)
                {
                    reason = new BridgeException(ErrorCodes.BadMessage, $"The host sent a message this client cannot read ({problem}); is it a newer, incompatible host?");
                    break;
                }
                Dispatch(message);
            }
        }
#pragma warning disable CA1031 // whatever ends the loop becomes the reason every pending operation fails with
        catch (Exception e)
#pragma warning restore CA1031
        {
            reason = e is BridgeException ? e : new BridgeException(ErrorCodes.ConnectionLost,
                $"The connection to the host at {_endpointText} was lost ({e.Message}): the host stopped or crashed (its console says why). Start it again, connect, and retry.", e);
        }
        Close(reason);
    }

    private void Dispatch(BridgeMessage message)
    {
        if (message.RequestId == 0)
        {
            // About the connection as a whole (bad frame, version mismatch, unauthorised): the host closes next.
            // Other connection-level errors answer a malformed frame, which this client never sends.
            if (message is BridgeError error && ErrorCodes.ClosesConnection(error.Code)) Close(new BridgeException(error.Code, error.Message));
            return;
        }
        int id = message.RequestId;
        if (!_pending.TryGetValue(id, out var operation)) return; // a reply to something already given up
        bool over;
        try
        {
            over = operation.Handle(message);
        }
#pragma warning disable CA1031 // a caller's callback threw: that operation fails with its exception, the connection lives on
        catch (Exception e)
#pragma warning restore CA1031
        {
            operation.Fail(e);
            if (_pending.TryRemove(id, out _) && operation is JobOperation) _ = SendAsync(new Cancel { RequestId = id }, 0).ContinueWith(t => _ = t.Exception, TaskScheduler.Default);
            return;
        }
        if (over) _pending.TryRemove(id, out _);
    }

    private void Close(Exception reason)
    {
        if (Interlocked.CompareExchange(ref _closedBecause, reason, null) is not null) return;
        foreach (var id in _pending.Keys)
            if (_pending.TryRemove(id, out var operation)) operation.Fail(reason);
        try
        {
            _closing.Cancel();
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Already closed.
        }
    }

    private static Exception Closed(Exception reason) => reason is BridgeException b
        ? new BridgeException(b.Code, b.Message, b)
        : new BridgeException(ErrorCodes.ConnectionLost, "The connection is closed.", reason);

    private abstract class Operation
    {
        /// <summary>Handles a message for this operation; true when the operation is over.</summary>
        public abstract bool Handle(BridgeMessage message);

        public abstract void Fail(Exception reason);
    }

    private sealed class ReplyOperation<T> : Operation where T : BridgeMessage
    {
        private readonly TaskCompletionSource<T> _source = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task<T> Task => _source.Task;

        public override bool Handle(BridgeMessage message)
        {
            if (message is T reply) _source.TrySetResult(reply);
            else if (message is BridgeError error) _source.TrySetException(new BridgeException(error.Code, error.Message));
            else _source.TrySetException(new BridgeException(ErrorCodes.UnexpectedMessage, $"The host answered with {message.GetType().Name} where {typeof(T).Name} was expected."));
            return true;
        }

        public override void Fail(Exception reason) => _source.TrySetException(reason);
    }

    private sealed class JobOperation(Action<Progress>? progress, Action<Accepted>? accepted) : Operation
    {
        private readonly TaskCompletionSource<GenerateResult> _source = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task<GenerateResult> Task => _source.Task;

        public override bool Handle(BridgeMessage message)
        {
            switch (message)
            {
                case Accepted a:
                    accepted?.Invoke(a);
                    return false;
                case Progress p:
                    progress?.Invoke(p);
                    return false;
                case GenerateResult r:
                    _source.TrySetResult(r);
                    return true;
                case Cancelled:
                    _source.TrySetCanceled();
                    return true;
                case BridgeError e:
                    _source.TrySetException(new BridgeException(e.Code, e.Message));
                    return true;
                default:
                    _source.TrySetException(new BridgeException(ErrorCodes.UnexpectedMessage, $"The host sent {message.GetType().Name} for a generation."));
                    return true;
            }
        }

        public override void Fail(Exception reason) => _source.TrySetException(reason);
    }
}
