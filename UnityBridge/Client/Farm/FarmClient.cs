using System;
using System.Threading;
using System.Threading.Tasks;
using EDiffI.Bridge.Protocol;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.KeyValueStore;
using NATS.Client.ObjectStore;

namespace EDiffI.Bridge.Farm;

/// <summary>
/// A client of a texture farm: submits the bridge's <see cref="GenerateRequest"/> as a job to the farm's JetStream
/// queue, watches its state and progress, fetches its <see cref="GenerateResult"/> from the result bucket and
/// cancels it, wherever it runs. Any number of clients and workers share one farm. Callbacks run on the NATS
/// client's threads: keep them short and hand work for an engine's main thread over to it.
/// </summary>
public sealed class FarmClient : IAsyncDisposable
{
    internal static readonly NatsRawSerializer<byte[]> Raw = NatsRawSerializer<byte[]>.Default;

    private readonly NatsConnection _nats;
    private readonly NatsJSContext _js;
    private readonly INatsKVStore _states;
    private readonly INatsObjStore _results;

    private FarmClient(NatsConnection nats, NatsJSContext js, INatsKVStore states, INatsObjStore results)
    {
        _nats = nats;
        _js = js;
        _states = states;
        _results = results;
    }

    /// <summary>The NATS connection (for example to read the server's limits).</summary>
    public INatsConnection Connection => _nats;

    /// <summary>Connects to the farm at <paramref name="options"/> and makes the farm's streams and buckets where they are missing.</summary>
    /// <exception cref="BridgeException">Code <see cref="ErrorCodes.FarmSettings"/> or <see cref="ErrorCodes.FarmUnreachable"/>, with what to do.</exception>
    public static async Task<FarmClient> ConnectAsync(FarmConnectOptions options, FarmTopologyOptions? topology = null, CancellationToken cancellationToken = default)
    {
        var (nats, js) = await OpenAsync(options, cancellationToken).ConfigureAwait(false);
        try
        {
            var (states, results) = await FarmTopology.EnsureAsync(js, topology ?? new FarmTopologyOptions(), updateConsumer: false, cancellationToken).ConfigureAwait(false);
            return new FarmClient(nats, js, states, results);
        }
        catch
        {
            await nats.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Opens a NATS connection with JetStream: the one way clients and workers connect, so both give the same messages
    /// for a wrong address, refused credentials or a server without JetStream.
    /// </summary>
    public static async Task<(NatsConnection Nats, NatsJSContext JetStream)> OpenAsync(FarmConnectOptions options, CancellationToken cancellationToken = default)
    {
        var nats = new NatsConnection(options.ToNatsOpts());
        try
        {
            try
            {
                cancellationToken.ThrowIfCancellationRequested();
                await nats.ConnectAsync().ConfigureAwait(false);
            }
            catch (NatsException e)
            {
                string why = (e.InnerException ?? e).Message;
                throw new BridgeException(ErrorCodes.FarmUnreachable,
                    $"Cannot reach the farm's NATS server at {options.Url}: {why}. Is nats-server running there, and are the credentials right?", e);
            }
            var js = new NatsJSContext(nats);
            try
            {
                await js.GetAccountInfoAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (NatsJSException e)
            {
                throw new BridgeException(ErrorCodes.FarmUnreachable,
                    $"The NATS server at {options.Url} has no JetStream for this account ({e.Message}); start it with JetStream enabled (see the README).", e);
            }
            return (nats, js);
        }
        catch
        {
            await nats.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Queues <paramref name="request"/> as job <paramref name="jobId"/> (a fresh id when null) and returns the id.
    /// The request is checked by the worker that takes it, through the same generation service as the bridge.
    /// </summary>
    /// <exception cref="BridgeException">The id is malformed or taken, or the request is larger than the server's messages may be.</exception>
    public async Task<string> SubmitAsync(GenerateRequest request, string? jobId = null, CancellationToken cancellationToken = default)
    {
        if (request is null) throw new ArgumentNullException(nameof(request));
        jobId ??= FarmNames.NewJobId();
        if (FarmNames.CheckJobId(jobId) is { } bad) throw new BridgeException(ErrorCodes.InvalidRequest, bad);
        byte[] payload = BridgeSerializer.ToBytes(request);
        long max = _nats.ServerInfo?.MaxPayload ?? long.MaxValue;
        if (payload.Length > max)
            throw new BridgeException(ErrorCodes.Limit,
                $"The request is {payload.Length} bytes with its images; this farm's server takes messages of at most {max} bytes (max_payload). Send smaller images or raise max_payload.");

        var state = new FarmJobState { Status = FarmJobStatus.Queued, Prompt = request.Prompt };
        try
        {
            await _states.CreateAsync(jobId, state.ToBytes(), Raw, cancellationToken).ConfigureAwait(false);
        }
        catch (NatsKVCreateException e)
        {
            throw new BridgeException(ErrorCodes.InvalidRequest, $"The job id '{jobId}' is taken already.", e);
        }
        var headers = new NatsHeaders { [FarmNames.JobIdHeader] = jobId };
        var ack = await _js.PublishAsync(FarmNames.JobSubject, payload, Raw, new NatsJSPubOpts { MsgId = jobId }, headers, cancellationToken).ConfigureAwait(false);
        ack.EnsureSuccess();
        return jobId;
    }

    /// <summary>The job's state; null when the farm knows no such job (never submitted, or past the retention time).</summary>
    public async Task<FarmJobState?> GetStateAsync(string jobId, CancellationToken cancellationToken = default) =>
        (await GetEntryAsync(jobId, cancellationToken).ConfigureAwait(false)).State;

    /// <summary>
    /// Follows the job until it is done, failed or cancelled, and returns that state: each state change goes to
    /// <paramref name="state"/>, each progress message (stage, step, σ, preview) to <paramref name="progress"/>.
    /// </summary>
    public Task<FarmJobState> WatchAsync(string jobId, Action<Progress>? progress = null, Action<FarmJobState>? state = null, CancellationToken cancellationToken = default) =>
        WatchAsync(jobId, progress, state, afterSubscribe: null, cancellationToken);

    /// <summary>The result of a done job: the image, the settings it was drawn with, the notes, the material preview.</summary>
    /// <exception cref="BridgeException">Code <see cref="ErrorCodes.UnknownJob"/> when there is no result (yet), with the job's state.</exception>
    public async Task<GenerateResult> GetResultAsync(string jobId, CancellationToken cancellationToken = default)
    {
        if (FarmNames.CheckJobId(jobId) is { } bad) throw new BridgeException(ErrorCodes.InvalidRequest, bad);
        byte[] bytes;
        try
        {
            bytes = await _results.GetBytesAsync(jobId, cancellationToken).ConfigureAwait(false);
        }
        catch (NatsObjNotFoundException e)
        {
            var state = await GetStateAsync(jobId, cancellationToken).ConfigureAwait(false);
            throw new BridgeException(ErrorCodes.UnknownJob,
                state is null ? $"The farm knows no job '{jobId}' (never submitted, or older than the retention time)." : $"Job '{jobId}' has no result: {state}.", e);
        }
        if (BridgeSerializer.TryRead(bytes, out string? problem) is not GenerateResult result)
            throw new BridgeException(ErrorCodes.BadMessage, $"The stored result of job '{jobId}' is not a result: {problem ?? "another message"}.");
        return result;
    }

    /// <summary>
    /// Cancels the job: a queued one is dropped by the worker that takes it, a running one stops between two
    /// denoiser evaluations on whichever worker runs it. False when the job is unknown or finished already.
    /// </summary>
    public async Task<bool> CancelAsync(string jobId, CancellationToken cancellationToken = default)
    {
        while (true)
        {
            var (state, revision) = await GetEntryAsync(jobId, cancellationToken).ConfigureAwait(false);
            if (state is null || FarmJobStatus.IsFinal(state.Status)) return false;
            var cancelled = new FarmJobState
            {
                Status = FarmJobStatus.Cancelled, Worker = state.Worker, Deliveries = state.Deliveries,
                WasRunning = state.Status == FarmJobStatus.Running, Prompt = state.Prompt,
            };
            try
            {
                await _states.UpdateAsync(jobId, cancelled.ToBytes(), revision, Raw, cancellationToken).ConfigureAwait(false);
            }
            catch (NatsKVWrongLastRevisionException)
            {
                continue; // a worker wrote first: read again
            }
            await _nats.PublishAsync(FarmNames.CancelSubject(jobId), Array.Empty<byte>(), cancellationToken: cancellationToken).ConfigureAwait(false);
            return true;
        }
    }

    /// <summary>
    /// Submits, follows and fetches in one call, like <see cref="BridgeClient.GenerateAsync"/>: cancelling
    /// <paramref name="cancellationToken"/> cancels the job on the farm.
    /// </summary>
    /// <exception cref="BridgeException">The job failed (its code and message) or could not be submitted.</exception>
    /// <exception cref="OperationCanceledException">The job was cancelled (here or by another client).</exception>
    public async Task<GenerateResult> GenerateAsync(GenerateRequest request, Action<Progress>? progress = null, Action<FarmJobState>? state = null,
        CancellationToken cancellationToken = default)
    {
        string jobId = FarmNames.NewJobId();
        FarmJobState final;
        try
        {
            final = await WatchAsync(jobId, progress, state, () => SubmitAsync(request, jobId, cancellationToken), cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            await CancelAsync(jobId, CancellationToken.None).ConfigureAwait(false);
            throw;
        }
        return final.Status switch
        {
            FarmJobStatus.Done => await GetResultAsync(jobId, cancellationToken).ConfigureAwait(false),
            FarmJobStatus.Cancelled => throw new OperationCanceledException($"Farm job {jobId} was cancelled."),
            _ => throw new BridgeException(final.ErrorCode ?? ErrorCodes.Internal, final.ErrorMessage ?? final.ToString()),
        };
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => _nats.DisposeAsync();

    private async Task<FarmJobState> WatchAsync(string jobId, Action<Progress>? progress, Action<FarmJobState>? state, Func<Task>? afterSubscribe,
        CancellationToken cancellationToken)
    {
        if (FarmNames.CheckJobId(jobId) is { } bad) throw new BridgeException(ErrorCodes.InvalidRequest, bad);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        // Subscribe before submitting, so that not even the first step's progress is missed.
        await using var sub = await _nats.SubscribeCoreAsync(FarmNames.ProgressSubject(jobId), serializer: Raw, cancellationToken: cancellationToken).ConfigureAwait(false);
        var pump = Task.Run(async () =>
        {
            try
            {
                while (await sub.Msgs.WaitToReadAsync(stop.Token).ConfigureAwait(false))
                    while (sub.Msgs.TryRead(out var msg))
                        if (msg.Data is { } data && BridgeSerializer.TryRead(data, out _) is Progress p) progress?.Invoke(p);
            }
            catch (OperationCanceledException)
            {
                // The job ended.
            }
        }, CancellationToken.None);
        try
        {
            if (afterSubscribe is not null) await afterSubscribe().ConfigureAwait(false);
            await foreach (var entry in _states.WatchAsync(jobId, Raw, cancellationToken: cancellationToken).ConfigureAwait(false))
            {
                if (FarmJobState.TryRead(entry.Value) is not { } current) continue;
                state?.Invoke(current);
                if (FarmJobStatus.IsFinal(current.Status)) return current;
            }
            throw new BridgeException(ErrorCodes.ConnectionLost, $"The watch of farm job {jobId} ended before the job did.");
        }
        finally
        {
            stop.Cancel();
            await pump.ConfigureAwait(false);
        }
    }

    private async Task<(FarmJobState? State, ulong Revision)> GetEntryAsync(string jobId, CancellationToken cancellationToken)
    {
        if (FarmNames.CheckJobId(jobId) is { } bad) throw new BridgeException(ErrorCodes.InvalidRequest, bad);
        try
        {
            var entry = await _states.GetEntryAsync(jobId, serializer: Raw, cancellationToken: cancellationToken).ConfigureAwait(false);
            return (FarmJobState.TryRead(entry.Value), entry.Revision);
        }
        catch (Exception e) when (e is NatsKVKeyNotFoundException or NatsKVKeyDeletedException)
        {
            return (null, 0);
        }
    }
}
