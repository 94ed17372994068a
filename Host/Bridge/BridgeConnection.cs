using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Threading.Channels;
using EDiffI.Bridge.Protocol;

namespace EDiffI.Host.Bridge;

/// <summary>
/// One client connection: reads frames, answers each, queues generations, and writes everything
/// through one outgoing channel drained by a single writer (so the job worker never waits on a
/// slow client). Whatever a client sends, the worst outcome is an error reply and a closed
/// connection.
/// </summary>
internal sealed class BridgeConnection : IJobOwner, IDisposable
{
    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly BridgeServer _server;
    private readonly bool _needsToken;
    private readonly Channel<BridgeMessage> _outgoing = Channel.CreateUnbounded<BridgeMessage>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource _abort = new();
    private int _pendingProgress;
    private int _pendingAll;

    public BridgeConnection(Socket socket, BridgeServer server, bool needsToken, int id)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: true);
        _server = server;
        _needsToken = needsToken;
        Id = id;
    }

    public int Id { get; }

    private BridgeOptions Limits => _server.Options;

    public void Send(BridgeMessage message)
    {
        // A client that sends without reading its replies is cut off before its backlog grows without bound.
        if (Interlocked.Increment(ref _pendingAll) > Limits.MaxPendingReplies)
        {
            try { _abort.Cancel(); } catch (ObjectDisposedException) { }
            return;
        }
        if (!_outgoing.Writer.TryWrite(message)) Interlocked.Decrement(ref _pendingAll);
    }

    public void SendProgress(Progress progress)
    {
        // Progress is lossy by nature: drop it rather than let an unread backlog grow.
        if (Volatile.Read(ref _pendingProgress) >= Limits.MaxPendingProgress) return;
        Interlocked.Increment(ref _pendingProgress);
        Interlocked.Increment(ref _pendingAll);
        if (!_outgoing.Writer.TryWrite(progress))
        {
            Interlocked.Decrement(ref _pendingProgress);
            Interlocked.Decrement(ref _pendingAll);
        }
    }

    /// <summary>Serves the connection until the client leaves, breaks the framing or the server stops.</summary>
    public async Task RunAsync(CancellationToken stopping)
    {
        var writing = WriteLoopAsync();
        using var reading = CancellationTokenSource.CreateLinkedTokenSource(stopping, _abort.Token);
        try
        {
            await ReadLoopAsync(reading.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The client went away or the server is stopping.
        }
        finally
        {
            _server.Queue.CancelAll(this);
            _outgoing.Writer.TryComplete();
            // Let the last replies (a closing error) go out, but never wait long on a client that does not read.
            await Task.WhenAny(writing, Task.Delay(TimeSpan.FromSeconds(2), CancellationToken.None)).ConfigureAwait(false);
            try { _socket.Shutdown(SocketShutdown.Both); } catch (SocketException) { } catch (ObjectDisposedException) { }
            Dispose();
        }
    }

    public void Dispose()
    {
        _stream.Dispose();
        _abort.Dispose();
    }

    private async Task ReadLoopAsync(CancellationToken stopping)
    {
        var reader = new FrameReader(_stream, Limits.MaxFrameBytes);
        if (!await HandshakeAsync(reader, stopping).ConfigureAwait(false)) return;
        while (true)
        {
            Frame? frame;
            try
            {
                frame = await reader.ReadAsync(stopping).ConfigureAwait(false);
            }
            catch (FrameException e)
            {
                Send(new BridgeError { Code = ErrorCodes.BadFrame, Message = $"Closing the connection: {e.Message}." });
                return;
            }
            if (frame is null) return;
            using (frame)
            {
                var message = BridgeSerializer.TryRead(frame.Payload, out string? problem);
                if (message is null) Send(new BridgeError { Code = ErrorCodes.BadMessage, Message = $"Ignored a frame: {problem}." });
                else Handle(message);
            }
        }
    }

    private async Task<bool> HandshakeAsync(FrameReader reader, CancellationToken stopping)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        timeout.CancelAfter(TimeSpan.FromSeconds(Limits.HandshakeTimeoutSeconds));
        Frame? frame;
        try
        {
            frame = await reader.ReadAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (FrameException e)
        {
            Send(new BridgeError { Code = ErrorCodes.BadFrame, Message = $"Closing the connection: {e.Message}." });
            return false;
        }
        catch (OperationCanceledException) when (!stopping.IsCancellationRequested)
        {
            Send(new BridgeError { Code = ErrorCodes.Handshake, Message = $"No Hello within {Limits.HandshakeTimeoutSeconds} s; closing." });
            return false;
        }
        if (frame is null) return false;
        BridgeMessage? message;
        string? problem;
        using (frame) message = BridgeSerializer.TryRead(frame.Payload, out problem);
        if (message is not Hello hello)
        {
            Send(new BridgeError
            {
                RequestId = message?.RequestId ?? 0, Code = ErrorCodes.Handshake,
                Message = message is null ? $"The first frame must be a Hello, and it could not be read ({problem}); closing." : $"The first message must be a Hello, not {message.GetType().Name}; closing.",
            });
            return false;
        }
        int agreed = Math.Min(hello.ProtocolVersion, BridgeProtocol.Version);
        if (agreed < Math.Max(hello.MinProtocolVersion, BridgeProtocol.MinVersion))
        {
            Send(new BridgeError
            {
                RequestId = hello.RequestId, Code = ErrorCodes.ProtocolVersion,
                Message = $"Protocol version mismatch: the client speaks {hello.MinProtocolVersion} to {hello.ProtocolVersion}, this host speaks {BridgeProtocol.MinVersion} to {BridgeProtocol.Version}. Update the older side.",
            });
            return false;
        }
        if (_needsToken && !TokenMatches(hello.Token))
        {
            Send(new BridgeError
            {
                RequestId = hello.RequestId, Code = ErrorCodes.Unauthorized,
                Message = "TCP connections need the token from the host's token file (bridge.token in the bridge folder), and this Hello's token is missing or wrong.",
            });
            return false;
        }
        _server.Log($"connection {Id}: {hello.Software ?? "unnamed client"}, protocol {agreed}");
        Send(new Welcome
        {
            RequestId = hello.RequestId,
            ProtocolVersion = agreed,
            Software = BridgeServer.SoftwareName,
            Capabilities = [.. _server.Executor.Capabilities],
            Limits = Limits.ToInfo(),
            Model = _server.Executor.Model,
        });
        return true;
    }

    private bool TokenMatches(string? token)
    {
        if (token is null || _server.Token is null) return false;
        return CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(token), Encoding.UTF8.GetBytes(_server.Token));
    }

    private void Handle(BridgeMessage message)
    {
        int id = message.RequestId;
        switch (message)
        {
            case ListRequest:
                Send(new ListReply { RequestId = id, Models = [_server.Executor.Model], Samplers = [.. _server.Executor.Samplers], Plugins = [.. _server.Plugins] });
                break;
            case GenerateRequest request:
                Generate(request);
                break;
            case Cancel:
                if (!_server.Queue.Cancel(this, id))
                    Send(new BridgeError { RequestId = id, Code = ErrorCodes.UnknownJob, Message = $"No queued or running job has request id {id} on this connection." });
                break;
            case Hello:
                Send(new BridgeError { RequestId = id, Code = ErrorCodes.BadMessage, Message = "Hello is sent once, first; ignored." });
                break;
            default:
                Send(new BridgeError { RequestId = id, Code = ErrorCodes.UnexpectedMessage, Message = $"{message.GetType().Name} is sent by hosts, not clients; ignored." });
                break;
        }
    }

    private void Generate(GenerateRequest request)
    {
        int id = request.RequestId;
        if (id == 0)
        {
            Send(new BridgeError { Code = ErrorCodes.InvalidRequest, Message = "A generate request needs a non-zero request id." });
            return;
        }
        if (RequestChecks.Check(request, Limits, _server.Executor) is { } error)
        {
            error.RequestId = id;
            Send(error);
            return;
        }
        var outcome = _server.Queue.Enqueue(this, request, out int ahead);
        switch (outcome)
        {
            case EnqueueOutcome.Queued:
                Send(new Accepted { RequestId = id, JobsAhead = ahead });
                break;
            case EnqueueOutcome.OwnerFull:
                Send(new BridgeError { RequestId = id, Code = ErrorCodes.QueueFull, Message = $"This connection already has {Limits.MaxJobsPerClient} jobs queued or running; wait for one to finish." });
                break;
            case EnqueueOutcome.DuplicateId:
                Send(new BridgeError { RequestId = id, Code = ErrorCodes.InvalidRequest, Message = $"Request id {id} is already a queued or running job on this connection." });
                break;
            default:
                Send(new BridgeError { RequestId = id, Code = ErrorCodes.QueueFull, Message = $"The host's queue is full ({ahead} jobs); try again shortly." });
                break;
        }
    }

    private async Task WriteLoopAsync()
    {
        var writer = new FrameWriter();
        var reader = _outgoing.Reader;
        try
        {
            while (await reader.WaitToReadAsync().ConfigureAwait(false))
            {
                while (reader.TryRead(out var message))
                {
                    if (message is Progress) Interlocked.Decrement(ref _pendingProgress);
                    Interlocked.Decrement(ref _pendingAll);
                    await writer.WriteAsync(_stream, message, CancellationToken.None).ConfigureAwait(false);
                }
            }
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
            // The client went away; the read side ends too.
            try { _socket.Shutdown(SocketShutdown.Both); } catch (SocketException) { } catch (ObjectDisposedException) { }
        }
    }
}
