using EDiffI.Host.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace EDiffI.Host.Training.Distributed;

/// <summary>
/// <see cref="ICommunicator"/> over NCCL, one process per GPU. The ranks meet through <see cref="Rendezvous"/> (rank 0
/// makes the ncclUniqueId and hands it out), then join one communicator with ncclCommInitRank.
/// </summary>
/// <remarks>
/// <para>Collectives run on the legacy default CUDA stream (stream handle 0), the stream libtorch runs its kernels on unless
/// told otherwise, so they are ordered after the backward pass that made the gradients and before the optimizer step that
/// reads them, without an extra synchronisation; the trainer's next read of a value (the loss) waits for them.</para>
/// <para>Failure: a watchdog thread polls ncclCommGetAsyncError, and the rendezvous sockets stay open as a liveness channel.
/// On either signal the communicator is aborted (ncclCommAbort, which ends the collectives in flight), the next
/// <see cref="ThrowIfFailed"/> throws a clear message, and should the training thread still be stuck after
/// <see cref="ExitGrace"/> the process exits with that message. Checkpoints are atomic, so the last one stays usable.</para>
/// </remarks>
public sealed class NcclCommunicator : ICommunicator
{
    /// <summary>How long a rank whose run has failed may take to stop by itself before it exits.</summary>
    public static readonly TimeSpan ExitGrace = TimeSpan.FromSeconds(30);

    private readonly NcclLibrary _nccl;
    private readonly Rendezvous _rendezvous;
    private readonly IntPtr _comm;
    private readonly Thread _watchdog;
    private readonly ManualResetEventSlim _stop = new();
    private readonly object _lock = new();
    private readonly List<IntPtr> _groups = []; // the live communicators split from this one (Split)
    private string? _failure;
    private bool _aborted, _disposed, _finished;

    /// <inheritdoc />
    public int Rank { get; }
    /// <inheritdoc />
    public int WorldSize { get; }
    /// <summary>The GPU this rank runs on (cuda:LOCAL_RANK).</summary>
    public Device Device { get; }

    private NcclCommunicator(NcclLibrary nccl, Rendezvous rendezvous, IntPtr comm, int rank, int worldSize, Device device)
    {
        _nccl = nccl;
        _rendezvous = rendezvous;
        _comm = comm;
        Rank = rank;
        WorldSize = worldSize;
        Device = device;
        _rendezvous.Watch(OnFailure);
        _watchdog = new Thread(Watch) { IsBackground = true, Name = "nccl watchdog" };
        _watchdog.Start();
    }

    /// <summary>
    /// Joins the run <paramref name="environment"/> describes on GPU cuda:LOCAL_RANK: loads NCCL (<see cref="NcclLibrary.Load"/>),
    /// meets the other ranks within <paramref name="timeout"/>, and initialises the communicator.
    /// </summary>
    public static NcclCommunicator Create(DistributedEnvironment environment, string? ncclPath, TimeSpan timeout)
    {
        var nccl = NcclLibrary.Load(ncclPath); // before waiting for anyone: a missing library is this rank's own error
        int devices = (int)cuda.device_count();
        if (environment.LocalRank >= devices)
            throw new UserException($"Rank {environment.Rank} has LOCAL_RANK {environment.LocalRank}, but this process sees {devices} GPU(s).");
        var device = new Device(DeviceType.CUDA, environment.LocalRank);
        CudaDriver.SetDevice(environment.LocalRank);
        Rendezvous rendezvous;
        if (environment.Rank == 0)
        {
            var listener = Rendezvous.Listen(environment.MasterPort);
            nccl.Check(nccl.GetUniqueId(out var id), "ncclGetUniqueId");
            rendezvous = Rendezvous.Root(listener, environment.WorldSize, ((ReadOnlySpan<byte>)id).ToArray(), timeout);
        }
        else rendezvous = Rendezvous.Peer(environment.MasterAddress, environment.MasterPort, environment.Rank, environment.WorldSize, timeout);
        try
        {
            if (rendezvous.Payload.Length != NcclUniqueId.Size)
                throw new UserException($"Rank 0 handed out {rendezvous.Payload.Length} bytes, not an ncclUniqueId of {NcclUniqueId.Size}.");
            var unique = new NcclUniqueId();
            rendezvous.Payload.CopyTo((Span<byte>)unique);
            nccl.Check(nccl.CommInitRank(out var comm, environment.WorldSize, unique, environment.Rank), "ncclCommInitRank");
            return new NcclCommunicator(nccl, rendezvous, comm, environment.Rank, environment.WorldSize, device);
        }
        catch
        {
            rendezvous.Dispose();
            throw;
        }
    }

    /// <summary>The library in use (for the start-up line).</summary>
    public NcclLibrary Library => _nccl;

    /// <inheritdoc />
    public void AllReduceSum(Tensor tensor) => AllReduceSum(_comm, tensor);

    /// <inheritdoc />
    public void Broadcast(Tensor tensor, int root) => Broadcast(_comm, tensor, root);

    // The collectives on this communicator or on one split from it.
    private void AllReduceSum(IntPtr comm, Tensor tensor)
    {
        var (pointer, count, type) = Buffer(tensor);
        Check(_nccl.AllReduce(pointer, pointer, count, type, NcclLibrary.Sum, comm, IntPtr.Zero), "ncclAllReduce");
    }

    private void Broadcast(IntPtr comm, Tensor tensor, int root)
    {
        var (pointer, count, type) = Buffer(tensor);
        Check(_nccl.Broadcast(pointer, pointer, count, type, root, comm, IntPtr.Zero), "ncclBroadcast");
    }

    /// <inheritdoc />
    /// <remarks>Through ncclCommSplit, which NCCL has from 2.18 on; a failure of the run aborts the groups too.</remarks>
    public ICommunicator Split(int color, int key)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(color);
        ThrowIfFailed();
        var split = _nccl.CommSplit ?? throw new UserException(
            $"Training rank groups (--expert-parallel) needs NCCL 2.18 or later (ncclCommSplit); {_nccl.Path} is NCCL {_nccl.VersionText}. Point --nccl-lib at a newer libnccl.so.2.");
        Check(split(_comm, color, key, out var comm, IntPtr.Zero), "ncclCommSplit");
        try
        {
            Check(_nccl.CommUserRank(comm, out int rank), "ncclCommUserRank");
            Check(_nccl.CommCount(comm, out int count), "ncclCommCount");
            lock (_lock) _groups.Add(comm);
            return new NcclGroup(this, comm, rank, count);
        }
        catch
        {
            _nccl.CommAbort(comm);
            throw;
        }
    }

    // Ends a group made by Split: destroyed after the device has finished its work, or left alone when the failure of the
    // run has already aborted it.
    private void Release(IntPtr comm)
    {
        lock (_lock)
        {
            if (!_groups.Remove(comm)) return;
            if (_aborted) return;
        }
        cuda.synchronize(Device);
        _nccl.CommDestroy(comm);
    }

    /// <summary>A communicator split from the run's (<see cref="Split"/>): its collectives, the run's failure state.</summary>
    private sealed class NcclGroup(NcclCommunicator run, IntPtr comm, int rank, int worldSize) : ICommunicator
    {
        private bool _disposed;
        public int Rank => rank;
        public int WorldSize => worldSize;
        public Device Device => run.Device;
        public void AllReduceSum(Tensor tensor) => run.AllReduceSum(comm, tensor);
        public void Broadcast(Tensor tensor, int root) => run.Broadcast(comm, tensor, root);
        public ICommunicator Split(int color, int key) =>
            throw new NotSupportedException("groups are split from the run's communicator only");
        public void ThrowIfFailed() => run.ThrowIfFailed();
        public void Dispose()
        {
            if (_disposed) return;
            _disposed = true;
            run.Release(comm);
        }
    }

    /// <inheritdoc />
    public void ThrowIfFailed()
    {
        string? failure;
        lock (_lock) failure = _failure;
        if (failure is not null)
            throw new UserException($"The distributed run stopped on rank {Rank}: {failure}. The last checkpoint in the run folder is intact; " +
                                    "run again (with any number of GPUs that divides --batch) to resume.");
    }

    private (IntPtr Pointer, nuint Count, int Type) Buffer(Tensor tensor)
    {
        ThrowIfFailed();
        if (tensor.device.type != DeviceType.CUDA || tensor.device.index != Device.index)
            throw new ArgumentException($"NCCL works on this rank's GPU ({Device}); the tensor is on {tensor.device}", nameof(tensor));
        if (!tensor.is_contiguous()) throw new ArgumentException("NCCL needs a contiguous tensor", nameof(tensor));
        int type = tensor.dtype switch
        {
            ScalarType.Float32 => NcclLibrary.Float32,
            ScalarType.Float64 => NcclLibrary.Float64,
            ScalarType.BFloat16 => NcclLibrary.BFloat16,
            ScalarType.Float16 => NcclLibrary.Float16,
            ScalarType.Int64 => NcclLibrary.Int64,
            var other => throw new ArgumentException($"no NCCL type for {other}", nameof(tensor)),
        };
        return (TensorData.Pointer(tensor), (nuint)tensor.NumberOfElements, type);
    }

    private void Check(int result, string call)
    {
        if (result == 0) return;
        ThrowIfFailed(); // an aborted communicator fails its calls: report why it was aborted
        _nccl.Check(result, call);
    }

    // Polls NCCL's asynchronous error state (a failed peer connection, a remote error) while the run lasts.
    private void Watch()
    {
        while (!_stop.Wait(TimeSpan.FromMilliseconds(250)))
        {
            int result;
            lock (_lock)
            {
                if (_aborted || _disposed || _finished) return;
                if (_nccl.CommGetAsyncError(_comm, out result) != 0) continue;
            }
            if (result != 0 && result != 7) // 7: ncclInProgress
            {
                string text = System.Runtime.InteropServices.Marshal.PtrToStringAnsi(_nccl.GetErrorString(result)) ?? $"ncclResult_t {result}";
                _rendezvous.Fail($"NCCL reported an error on rank {Rank}: {text}");
            }
        }
    }

    // Called once, from a watch thread, when the run can no longer go on.
    private void OnFailure(string reason)
    {
        lock (_lock)
        {
            if (_disposed || _failure is not null) return;
            _failure = reason;
            _aborted = true;
            foreach (var group in _groups) _nccl.CommAbort(group);
            _nccl.CommAbort(_comm);
        }
        Console.Error.WriteLine($"rank {Rank}: stopping: {reason}");
        var exit = new Thread(() =>
        {
            if (_stop.Wait(ExitGrace)) return;
            Console.Error.WriteLine($"rank {Rank}: the training thread did not stop within {ExitGrace.TotalSeconds:0} s of the failure ({reason}); exiting. The last checkpoint is intact.");
            Environment.Exit(3);
        }) { IsBackground = true, Name = "nccl exit grace" };
        exit.Start();
    }

    /// <summary>
    /// Ends a run that went well on this rank: waits for the device, destroys the communicator and says goodbye (rank 0
    /// waits for everyone, so that its last checkpoint is written before any rank's end could look like a death).
    /// </summary>
    public void Finish()
    {
        lock (_lock)
        {
            if (_disposed || _failure is not null) return;
            _finished = true;
        }
        _stop.Set();
        cuda.synchronize(Device);
        _nccl.CommDestroy(_comm);
        try { _rendezvous.Leave(TimeSpan.FromMinutes(10)); }
        catch (UserException e) { Console.Error.WriteLine($"rank {Rank}: {e.Message}"); }
    }

    /// <summary>
    /// Releases the rank. Without <see cref="Finish"/> first (this rank stops on an error) the others are told at once,
    /// so they stop too instead of waiting for it in a collective.
    /// </summary>
    public void Dispose()
    {
        bool finished, failed;
        lock (_lock)
        {
            if (_disposed) return;
            (finished, failed) = (_finished, _failure is not null);
            _disposed = true;
        }
        _stop.Set();
        if (!finished && !failed)
        {
            _rendezvous.Fail(Rank == 0 ? "rank 0 stopped before the end of the run (see its output)" : "it stopped before the end of the run (see its output)");
            lock (_lock) foreach (var group in _groups) _nccl.CommAbort(group);
            _nccl.CommAbort(_comm);
        }
        _rendezvous.Dispose();
    }
}

/// <summary>The device address of a tensor's data, which TorchSharp 0.107 does not expose: LibTorchSharp's own export.</summary>
internal static class TensorData
{
    [System.Runtime.InteropServices.DllImport("LibTorchSharp")]
    private static extern IntPtr THSTensor_data(IntPtr tensor);

    /// <summary>The address of the tensor's first element (<c>at::Tensor::data_ptr()</c>).</summary>
    public static IntPtr Pointer(Tensor tensor)
    {
        var pointer = THSTensor_data(tensor.Handle);
        if (pointer == IntPtr.Zero) throw new InvalidOperationException("the tensor has no data");
        return pointer;
    }
}
