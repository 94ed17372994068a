using EDiffI.Bridge.Protocol;

namespace EDiffI.Host.Bridge;

/// <summary>Where a job's messages go: its connection.</summary>
public interface IJobOwner
{
    /// <summary>Sends a job's terminal message (result, cancellation, error); never blocks.</summary>
    void Send(BridgeMessage message);

    /// <summary>Sends a progress message unless the owner is too far behind reading; never blocks.</summary>
    void SendProgress(Progress progress);
}

/// <summary>Why a job was not queued.</summary>
public enum EnqueueOutcome
{
    /// <summary>Queued.</summary>
    Queued,
    /// <summary>The whole queue is full.</summary>
    QueueFull,
    /// <summary>This owner has as many jobs as it may.</summary>
    OwnerFull,
    /// <summary>This owner already has a job with that request id.</summary>
    DuplicateId,
    /// <summary>The queue is shutting down.</summary>
    Stopped,
}

/// <summary>
/// The job queue: jobs from many connections, one generation on the device at a time. Fair between
/// connections: each connection has its own first-in-first-out queue, and the worker takes the next
/// job from the connections in turn (round robin), so one client's long queue never starves another.
/// Cancel removes a queued job or stops the running one between two denoiser evaluations.
/// </summary>
public sealed class JobQueue : IDisposable
{
    private readonly IJobExecutor _executor;
    private readonly int _maxDepth;
    private readonly int _maxPerOwner;
    private readonly Action<string>? _log;
    private readonly object _gate = new();
    private readonly Dictionary<IJobOwner, Queue<Job>> _queues = [];
    private readonly LinkedList<IJobOwner> _turns = new(); // owners with queued jobs, next turn first
    private readonly Dictionary<IJobOwner, int> _counts = []; // queued + running per owner
    private readonly Thread _worker;
    private int _queued;
    private Job? _running;
    private bool _stopped;

    /// <summary>A queue running jobs on <paramref name="executor"/> from one worker thread.</summary>
    public JobQueue(IJobExecutor executor, int maxDepth, int maxPerOwner, Action<string>? log = null)
    {
        _executor = executor;
        _maxDepth = maxDepth;
        _maxPerOwner = maxPerOwner;
        _log = log;
        _worker = new Thread(Work) { IsBackground = true, Name = "bridge-jobs" };
        _worker.Start();
    }

    /// <summary>Jobs executed to a result so far.</summary>
    public int Completed { get; private set; }

    /// <summary>Queues a request; <paramref name="ahead"/> is the number of jobs queued or running before it was added.</summary>
    public EnqueueOutcome Enqueue(IJobOwner owner, GenerateRequest request, out int ahead)
    {
        lock (_gate)
        {
            ahead = _queued + (_running is null ? 0 : 1);
            if (_stopped) return EnqueueOutcome.Stopped;
            if (ahead >= _maxDepth) return EnqueueOutcome.QueueFull;
            _counts.TryGetValue(owner, out int count);
            if (count >= _maxPerOwner) return EnqueueOutcome.OwnerFull;
            if (Find(owner, request.RequestId) is not null) return EnqueueOutcome.DuplicateId;
            if (!_queues.TryGetValue(owner, out var queue)) _queues[owner] = queue = new Queue<Job>();
            if (queue.Count == 0) _turns.AddLast(owner);
            queue.Enqueue(new Job(owner, request));
            _counts[owner] = count + 1;
            _queued++;
            Monitor.Pulse(_gate);
            return EnqueueOutcome.Queued;
        }
    }

    /// <summary>Cancels <paramref name="owner"/>'s job <paramref name="requestId"/>; false when it has no such job.</summary>
    public bool Cancel(IJobOwner owner, int requestId)
    {
        Job? removed = null;
        lock (_gate)
        {
            if (_running is { } running && running.Owner == owner && running.Request.RequestId == requestId)
            {
                running.Cancellation.Cancel(); // the worker answers once the executor stops
                return true;
            }
            if (!_queues.TryGetValue(owner, out var queue)) return false;
            var kept = new Queue<Job>();
            foreach (var job in queue)
                if (removed is null && job.Request.RequestId == requestId) removed = job;
                else kept.Enqueue(job);
            if (removed is null) return false;
            Replace(owner, kept);
            Uncount(owner);
            _queued--;
        }
        removed.Owner.Send(new Cancelled { RequestId = requestId, WasRunning = false });
        removed.Cancellation.Dispose();
        return true;
    }

    /// <summary>Cancels every job of <paramref name="owner"/> without telling it (it disconnected).</summary>
    public void CancelAll(IJobOwner owner)
    {
        List<Job> dropped;
        lock (_gate)
        {
            if (_running is { } running && running.Owner == owner) running.Cancellation.Cancel();
            dropped = _queues.TryGetValue(owner, out var queue) ? [.. queue] : [];
            Replace(owner, new Queue<Job>());
            _queues.Remove(owner);
            _queued -= dropped.Count;
            if (_running?.Owner == owner) _counts[owner] = 1;
            else _counts.Remove(owner);
        }
        foreach (var job in dropped) job.Cancellation.Dispose();
    }

    /// <summary>Stops the worker: queued jobs are dropped, the running one is cancelled.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            _stopped = true;
            _running?.Cancellation.Cancel();
            Monitor.PulseAll(_gate);
        }
        _worker.Join(TimeSpan.FromSeconds(30));
    }

    private void Work()
    {
        while (true)
        {
            Job job;
            lock (_gate)
            {
                while (_queued == 0 && !_stopped) Monitor.Wait(_gate);
                if (_stopped) return;
                job = TakeNext();
                _running = job;
            }
            BridgeMessage outcome = Run(job);
            lock (_gate)
            {
                _running = null;
                Uncount(job.Owner);
            }
            job.Owner.Send(outcome);
            job.Cancellation.Dispose();
        }
    }

    private BridgeMessage Run(Job job)
    {
        int id = job.Request.RequestId;
        try
        {
            var result = _executor.Execute(job.Request, job.Owner.SendProgress, job.Cancellation.Token);
            result.RequestId = id;
            Completed++;
            return result;
        }
        catch (OperationCanceledException)
        {
            return new Cancelled { RequestId = id, WasRunning = true };
        }
        catch (Runtime.UserException e)
        {
            return new BridgeError { RequestId = id, Code = ErrorCodes.InvalidRequest, Message = e.Message };
        }
#pragma warning disable CA1031 // a failed generation is reported to its client; the worker serves the next job
        catch (Exception e)
#pragma warning restore CA1031
        {
            _log?.Invoke($"job {id} failed: {e}");
            return new BridgeError { RequestId = id, Code = ErrorCodes.Internal, Message = $"The generation failed on the host: {e.GetType().Name}: {e.Message}" };
        }
    }

    // Round robin: the owner whose turn it is gives its oldest job and goes to the back of the line.
    private Job TakeNext()
    {
        var owner = _turns.First!.Value;
        _turns.RemoveFirst();
        var queue = _queues[owner];
        var job = queue.Dequeue();
        if (queue.Count > 0) _turns.AddLast(owner);
        else _queues.Remove(owner);
        _queued--;
        return job;
    }

    private Job? Find(IJobOwner owner, int requestId)
    {
        if (_running is { } running && running.Owner == owner && running.Request.RequestId == requestId) return running;
        return _queues.TryGetValue(owner, out var queue) ? queue.FirstOrDefault(j => j.Request.RequestId == requestId) : null;
    }

    private void Replace(IJobOwner owner, Queue<Job> kept)
    {
        if (kept.Count > 0)
        {
            _queues[owner] = kept;
            return;
        }
        _queues.Remove(owner);
        _turns.Remove(owner);
    }

    private void Uncount(IJobOwner owner)
    {
        if (!_counts.TryGetValue(owner, out int count)) return;
        if (count <= 1) _counts.Remove(owner);
        else _counts[owner] = count - 1;
    }

    private sealed class Job(IJobOwner owner, GenerateRequest request)
    {
        public IJobOwner Owner { get; } = owner;
        public GenerateRequest Request { get; } = request;
        public CancellationTokenSource Cancellation { get; } = new();
    }
}
