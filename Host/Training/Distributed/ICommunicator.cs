using static TorchSharp.torch;

namespace EDiffI.Host.Training.Distributed;

/// <summary>
/// The collectives a data-parallel run needs, across <see cref="WorldSize"/> ranks. Every rank calls every collective in
/// the same order with tensors of the same shape and dtype; each call works in place on a contiguous tensor.
/// <see cref="NcclCommunicator"/> runs them through NCCL on CUDA tensors; the tests run them across threads.
/// </summary>
public interface ICommunicator : IDisposable
{
    /// <summary>This process's rank, 0 … <see cref="WorldSize"/> − 1; rank 0 writes checkpoints and prints progress.</summary>
    int Rank { get; }

    /// <summary>Number of ranks.</summary>
    int WorldSize { get; }

    /// <summary>Where the tensors of this rank's collectives live (its GPU; the CPU for the tests' in-process ranks).</summary>
    Device Device { get; }

    /// <summary>Replaces <paramref name="tensor"/> on every rank by the elementwise sum over all ranks.</summary>
    void AllReduceSum(Tensor tensor);

    /// <summary>Replaces <paramref name="tensor"/> on every rank by rank <paramref name="root"/>'s.</summary>
    void Broadcast(Tensor tensor, int root);

    /// <summary>
    /// Splits the ranks into groups (a collective over every rank): the ranks that pass the same <paramref name="color"/>
    /// (0 or more) form one new communicator, ranked by <paramref name="key"/>. The result is owned by the caller and
    /// must be disposed before this communicator; while it lives, this one reports its failures too.
    /// </summary>
    ICommunicator Split(int color, int key);

    /// <summary>
    /// Throws a <see cref="Runtime.UserException"/> when another rank has died or the transport has failed, so that the
    /// run stops with a clear message instead of waiting for a peer that will never come.
    /// </summary>
    void ThrowIfFailed();
}
