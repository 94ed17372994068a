using System.Collections.Concurrent;
using System.Threading.Channels;
using EDiffI.Bridge;
using EDiffI.Bridge.Farm;
using EDiffI.Bridge.Protocol;
using EDiffI.Host.Bridge;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.KeyValueStore;
using NATS.Client.ObjectStore;

namespace EDiffI.Host.Farm;

/// <summary>
/// A JetStream pull worker of the farm. It takes one job at a time from the shared durable consumer (this host's
/// device runs one generation at a time), checks and runs it through the host's bridge <see cref="JobQueue"/> (so
/// the bridge's checks, the generation service and the device are shared with local clients), sends in-progress
/// acknowledgements while it runs, and acknowledges explicitly once the result is stored. A job redelivered after a
/// worker died is run again unless its state already says done, so each job has exactly one result; a job that
/// fails on its last allowed delivery is published with its error to <see cref="FarmNames.FailedSubject"/>.
/// </summary>
public sealed class FarmWorker : IAsyncDisposable
{
    private static readonly NatsRawSerializer<byte[]> Raw = NatsRawSerializer<byte[]>.Default;

    private readonly NatsConnection _nats;
    private readonly NatsJSContext _js;
    private readonly INatsKVStore _states;
    private readonly INatsObjStore _results;
    private readonly INatsJSConsumer _consumer;
    private readonly JobQueue _queue;
    private readonly IJobExecutor _executor;
    private readonly BridgeOptions _limits;
    private readonly FarmWorkerOptions _options;
    private readonly Action<string>? _log;
    private readonly ConcurrentDictionary<string, CancellationTokenSource> _running = new();
    private readonly Channel<(string JobId, Progress Progress)> _progress =
        Channel.CreateBounded<(string, Progress)>(new BoundedChannelOptions(64) { FullMode = BoundedChannelFullMode.DropOldest });
    private readonly CancellationTokenSource _stopping = new();
    private readonly List<Task> _pumps = [];
    private INatsSub<byte[]>? _cancels;
    private int _nextRequestId;

    private FarmWorker(NatsConnection nats, NatsJSContext js, INatsKVStore states, INatsObjStore results, INatsJSConsumer consumer,
        JobQueue queue, IJobExecutor executor, BridgeOptions limits, FarmWorkerOptions options, Action<string>? log)
    {
        _nats = nats;
        _js = js;
        _states = states;
        _results = results;
        _consumer = consumer;
        _queue = queue;
        _executor = executor;
        _limits = limits;
        _options = options;
        _log = log;
    }

    /// <summary>The name written into the states of the jobs this worker runs.</summary>
    public string Name => _options.Name;

    /// <summary>Jobs this worker stored a result for.</summary>
    public int Completed { get; private set; }

    /// <summary>
    /// Connects to the farm, makes its streams and buckets where missing (the consumer takes this worker's
    /// acknowledgement wait) and listens for cancels; <see cref="RunAsync"/> then serves jobs.
    /// </summary>
    /// <exception cref="BridgeException">The settings are wrong or the server cannot be reached (codes farm-settings, farm-unreachable).</exception>
    public static async Task<FarmWorker> StartAsync(FarmConnectOptions connect, FarmWorkerOptions options, JobQueue queue, IJobExecutor executor,
        BridgeOptions limits, Action<string>? log, CancellationToken cancellationToken)
    {
        if (options.Problem() is { } problem) throw new BridgeException(ErrorCodes.FarmSettings, problem);
        connect.Name ??= "ediffi-worker " + options.Name;
        var (nats, js) = await FarmClient.OpenAsync(connect, cancellationToken).ConfigureAwait(false);
        try
        {
            var topology = new FarmTopologyOptions
            {
                AckWait = TimeSpan.FromSeconds(options.AckWaitSeconds),
                Retention = TimeSpan.FromHours(options.ResultRetentionHours),
            };
            var (states, results) = await FarmTopology.EnsureAsync(js, topology, updateConsumer: true, cancellationToken).ConfigureAwait(false);
            var consumer = await js.GetConsumerAsync(FarmNames.JobStream, FarmNames.WorkerConsumer, cancellationToken).ConfigureAwait(false);
            var worker = new FarmWorker(nats, js, states, results, consumer, queue, executor, limits, options, log);
            worker._cancels = await nats.SubscribeCoreAsync(FarmNames.CancelWildcard, serializer: Raw, cancellationToken: cancellationToken).ConfigureAwait(false);
            worker._pumps.Add(Task.Run(worker.CancelPumpAsync, CancellationToken.None));
            worker._pumps.Add(Task.Run(worker.ProgressPumpAsync, CancellationToken.None));
            log?.Invoke($"farm worker {options.Name} pulling jobs from {connect.Url}");
            return worker;
        }
        catch
        {
            await nats.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Serves jobs, one at a time, until <paramref name="cancellationToken"/> is cancelled; a running job is then handed back to the queue.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _stopping.Token);
        var token = linked.Token;
        while (!token.IsCancellationRequested)
        {
            try
            {
                // One job per pull: the next is asked for only once this one is acknowledged.
                var next = await _consumer.NextAsync(Raw, new NatsJSNextOpts { Expires = TimeSpan.FromSeconds(5) }, token).ConfigureAwait(false);
                if (next is { } msg) await HandleAsync(msg, token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                return;
            }
#pragma warning disable CA1031 // a worker keeps serving whatever one job or one call did; the job is redelivered
            catch (Exception e) when (e is not OperationCanceledException || !token.IsCancellationRequested)
#pragma warning restore CA1031
            {
                // The server went away or a store call failed: the job (if any) is redelivered; wait for the connection.
                _log?.Invoke($"farm worker {Name}: {e.Message}; retrying");
                try
                {
                    await Task.Delay(TimeSpan.FromSeconds(1), token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (_stopping.IsCancellationRequested) return;
        _stopping.Cancel();
        _progress.Writer.TryComplete();
        if (_cancels is not null) await _cancels.UnsubscribeAsync().ConfigureAwait(false);
        await Task.WhenAll(_pumps).ConfigureAwait(false);
        await _nats.DisposeAsync().ConfigureAwait(false);
        _stopping.Dispose();
    }

    private async Task HandleAsync(INatsJSMsg<byte[]> msg, CancellationToken stopping)
    {
        int deliveries = (int)(msg.Metadata?.NumDelivered ?? 1);
        string? jobId = msg.Headers is { } headers && headers.TryGetValue(FarmNames.JobIdHeader, out var values) ? values.ToString() : null;
        if (FarmNames.CheckJobId(jobId) is { } bad)
        {
            _log?.Invoke($"farm worker {Name}: dropped a job without a usable id ({bad})");
            await PublishFailedAsync(msg.Data, jobId ?? "", ErrorCodes.InvalidRequest, bad, stopping).ConfigureAwait(false);
            await msg.AckTerminateAsync(cancellationToken: stopping).ConfigureAwait(false);
            return;
        }
        string id = jobId!;
        // Listen for this job's cancel before reading its state, so a cancel is either in the state or reaches the run.
        using var cancel = new CancellationTokenSource();
        _running[id] = cancel;
        try
        {
            var (state, revision) = await ReadStateAsync(id, stopping).ConfigureAwait(false);
            if (state is not null && FarmJobStatus.IsFinal(state.Status))
            {
                _log?.Invoke($"farm job {id}: {state.Status} already, acknowledged without running");
                await msg.AckAsync(cancellationToken: stopping).ConfigureAwait(false);
                return;
            }
            if (BridgeSerializer.TryRead(msg.Data ?? [], out string? unreadable) is not GenerateRequest request)
            {
                await FailAsync(msg, id, state, deliveries, ErrorCodes.BadMessage, $"The job is not a bridge GenerateRequest: {unreadable ?? "another message"}.", stopping).ConfigureAwait(false);
                return;
            }
            if (deliveries > _options.MaxDeliveries)
            {
                string last = state?.ErrorMessage ?? "each worker that took it stopped without an answer";
                await FailAsync(msg, id, state, deliveries - 1, ErrorCodes.FarmGaveUp,
                    $"Gave up after {deliveries - 1} deliveries (at most {_options.MaxDeliveries}); last: {last}", stopping).ConfigureAwait(false);
                return;
            }
            request.RequestId = Interlocked.Increment(ref _nextRequestId);
            if (RequestChecks.Check(request, _limits, _executor) is { } refused)
            {
                await FailAsync(msg, id, state, deliveries, refused.Code, refused.Message, stopping).ConfigureAwait(false);
                return;
            }
            var running = new FarmJobState { Status = FarmJobStatus.Running, Worker = Name, Deliveries = deliveries, Prompt = request.Prompt };
            if (!await TryWriteAsync(id, running, revision, stopping).ConfigureAwait(false))
            {
                _log?.Invoke($"farm job {id}: cancelled before it ran");
                await msg.AckAsync(cancellationToken: stopping).ConfigureAwait(false);
                return;
            }
            _log?.Invoke($"farm job {id}: running (delivery {deliveries})");
            var outcome = await RunAsync(msg, id, request, cancel.Token, stopping).ConfigureAwait(false);
            await FinishAsync(msg, id, request.Prompt, deliveries, outcome, stopping).ConfigureAwait(false);
        }
        finally
        {
            _running.TryRemove(id, out _);
        }
    }

    // Runs the job on the host's queue, acknowledging progress every third of the acknowledgement wait.
    private async Task<BridgeMessage> RunAsync(INatsJSMsg<byte[]> msg, string jobId, GenerateRequest request, CancellationToken cancel, CancellationToken stopping)
    {
        var owner = new JobOwner(this, jobId);
        var queued = _queue.Enqueue(owner, request, out _);
        if (queued != EnqueueOutcome.Queued)
            return new BridgeError { Code = ErrorCodes.Internal, Message = $"This worker's local queue refused the job ({queued}); it is offered again." };
        using var cancelRun = cancel.Register(() => _queue.Cancel(owner, request.RequestId));
        using var stopRun = stopping.Register(() => _queue.Cancel(owner, request.RequestId));
        using var ticker = new PeriodicTimer(TimeSpan.FromSeconds(_options.AckWaitSeconds / 3));
        while (true)
        {
            var tick = ticker.WaitForNextTickAsync(CancellationToken.None).AsTask();
            if (await Task.WhenAny(owner.Outcome, tick).ConfigureAwait(false) == owner.Outcome) return await owner.Outcome.ConfigureAwait(false);
            await msg.AckProgressAsync(cancellationToken: CancellationToken.None).ConfigureAwait(false);
        }
    }

    private async Task FinishAsync(INatsJSMsg<byte[]> msg, string jobId, string prompt, int deliveries, BridgeMessage outcome, CancellationToken stopping)
    {
        switch (outcome)
        {
            case GenerateResult result:
                result.RequestId = 0;
                // The result first, then the state, then the acknowledgement: a worker that dies in between leaves
                // a job that is redelivered and either finds the state done or overwrites the same one result.
                await _results.PutAsync(jobId, BridgeSerializer.ToBytes(result), CancellationToken.None).ConfigureAwait(false);
                await _states.PutAsync(jobId, new FarmJobState { Status = FarmJobStatus.Done, Worker = Name, Deliveries = deliveries, Prompt = prompt }.ToBytes(),
                    Raw, CancellationToken.None).ConfigureAwait(false);
                await msg.AckAsync(cancellationToken: CancellationToken.None).ConfigureAwait(false);
                Completed++;
                _log?.Invoke($"farm job {jobId}: done");
                break;
            case Cancelled when stopping.IsCancellationRequested:
                // This worker is stopping, not the job: hand it straight back to the queue.
                await _states.PutAsync(jobId, new FarmJobState { Status = FarmJobStatus.Queued, Worker = Name, Deliveries = deliveries, Prompt = prompt }.ToBytes(),
                    Raw, CancellationToken.None).ConfigureAwait(false);
                await msg.NakAsync(cancellationToken: CancellationToken.None).ConfigureAwait(false);
                break;
            case Cancelled cancelled:
                await _states.PutAsync(jobId, new FarmJobState
                {
                    Status = FarmJobStatus.Cancelled, Worker = Name, Deliveries = deliveries, WasRunning = cancelled.WasRunning, Prompt = prompt,
                }.ToBytes(), Raw, CancellationToken.None).ConfigureAwait(false);
                await msg.AckAsync(cancellationToken: CancellationToken.None).ConfigureAwait(false);
                _log?.Invoke($"farm job {jobId}: cancelled");
                break;
            case BridgeError { Code: ErrorCodes.Internal } error when deliveries < _options.MaxDeliveries:
                await _states.PutAsync(jobId, new FarmJobState
                {
                    Status = FarmJobStatus.Queued, Worker = Name, Deliveries = deliveries, ErrorCode = error.Code, ErrorMessage = error.Message, Prompt = prompt,
                }.ToBytes(), Raw, CancellationToken.None).ConfigureAwait(false);
                await msg.NakAsync(new AckOpts { NakDelay = TimeSpan.FromSeconds(_options.RetryDelaySeconds) }, CancellationToken.None).ConfigureAwait(false);
                _log?.Invoke($"farm job {jobId}: delivery {deliveries} failed ({error.Message}); offered again");
                break;
            case BridgeError { Code: ErrorCodes.Internal } error:
                await FailAsync(msg, jobId, new FarmJobState { Prompt = prompt }, deliveries, ErrorCodes.FarmGaveUp,
                    $"Failed on all {deliveries} deliveries; last: {error.Message}", CancellationToken.None).ConfigureAwait(false);
                break;
            case BridgeError error:
                await FailAsync(msg, jobId, new FarmJobState { Prompt = prompt }, deliveries, error.Code, error.Message, CancellationToken.None).ConfigureAwait(false);
                break;
            default:
                throw new InvalidOperationException($"the queue answered a job with {outcome.GetType().Name}");
        }
    }

    // A job given up on: its state says why, the failed subject gets the job with its error, and the queue forgets it.
    private async Task FailAsync(INatsJSMsg<byte[]> msg, string jobId, FarmJobState? state, int deliveries, string code, string message, CancellationToken cancellationToken)
    {
        await _states.PutAsync(jobId, new FarmJobState
        {
            Status = FarmJobStatus.Failed, Worker = Name, Deliveries = deliveries, ErrorCode = code, ErrorMessage = message, Prompt = state?.Prompt,
        }.ToBytes(), Raw, cancellationToken).ConfigureAwait(false);
        await PublishFailedAsync(msg.Data, jobId, code, message, cancellationToken).ConfigureAwait(false);
        await msg.AckTerminateAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        _log?.Invoke($"farm job {jobId}: failed ({code}: {message})");
    }

    private async Task PublishFailedAsync(byte[]? job, string jobId, string code, string message, CancellationToken cancellationToken)
    {
        var headers = new NatsHeaders
        {
            [FarmNames.JobIdHeader] = jobId,
            [FarmNames.ErrorCodeHeader] = code,
            // Header values are one line of ASCII-safe text.
            [FarmNames.ErrorMessageHeader] = new string([.. message.Select(c => c < ' ' || c > '~' ? '?' : c)]),
        };
        var ack = await _js.PublishAsync(FarmNames.FailedSubject, job ?? [], Raw, headers: headers, cancellationToken: cancellationToken).ConfigureAwait(false);
        ack.EnsureSuccess();
    }

    private async Task<(FarmJobState? State, ulong Revision)> ReadStateAsync(string jobId, CancellationToken cancellationToken)
    {
        try
        {
            var entry = await _states.GetEntryAsync(jobId, serializer: Raw, cancellationToken: cancellationToken).ConfigureAwait(false);
            return (FarmJobState.TryRead(entry.Value), entry.Revision);
        }
        catch (Exception e) when (e is NatsKVKeyNotFoundException or NatsKVKeyDeletedException)
        {
            return (null, 0); // published without a state (another tool), or the state outlived its retention
        }
    }

    // Writes the running state unless a client changed the state since it was read; false when that client cancelled it.
    private async Task<bool> TryWriteAsync(string jobId, FarmJobState state, ulong revision, CancellationToken cancellationToken)
    {
        while (true)
        {
            try
            {
                if (revision == 0) await _states.PutAsync(jobId, state.ToBytes(), Raw, cancellationToken).ConfigureAwait(false);
                else await _states.UpdateAsync(jobId, state.ToBytes(), revision, Raw, cancellationToken).ConfigureAwait(false);
                return true;
            }
            catch (NatsKVWrongLastRevisionException)
            {
                var (now, nowRevision) = await ReadStateAsync(jobId, cancellationToken).ConfigureAwait(false);
                if (now is not null && FarmJobStatus.IsFinal(now.Status)) return false;
                revision = nowRevision;
            }
        }
    }

    private async Task CancelPumpAsync()
    {
        var sub = _cancels!;
        try
        {
            await foreach (var msg in sub.Msgs.ReadAllAsync(_stopping.Token).ConfigureAwait(false))
            {
                string jobId = msg.Subject[(msg.Subject.LastIndexOf('.') + 1)..];
                if (_running.TryGetValue(jobId, out var cancel))
                {
                    _log?.Invoke($"farm job {jobId}: cancel received");
                    cancel.Cancel();
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
    }

    // Progress goes out in order from one task; a slow server drops the oldest steps, never stalls the device.
    private async Task ProgressPumpAsync()
    {
        await foreach (var (jobId, progress) in _progress.Reader.ReadAllAsync().ConfigureAwait(false))
        {
            progress.RequestId = 0;
            try
            {
                await _nats.PublishAsync(FarmNames.ProgressSubject(jobId), BridgeSerializer.ToBytes(progress), serializer: Raw).ConfigureAwait(false);
            }
            catch (NatsException e)
            {
                _log?.Invoke($"farm job {jobId}: progress not sent ({e.Message})");
            }
        }
    }

    // The queue's view of a farm job: its terminal message completes the run, its progress goes to the job's subject.
    private sealed class JobOwner(FarmWorker worker, string jobId) : IJobOwner
    {
        private readonly TaskCompletionSource<BridgeMessage> _outcome = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task<BridgeMessage> Outcome => _outcome.Task;

        public void Send(BridgeMessage message) => _outcome.TrySetResult(message);

        public void SendProgress(Progress progress) => worker._progress.Writer.TryWrite((jobId, progress));
    }
}
