using EDiffI.Data;
using EDiffI.Host.Runtime;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EDiffI.Host.Training.Distributed;

/// <summary>
/// What a trainer does differently when it is one rank of a data-parallel run. Every rank holds the same weights and the
/// same generator state; each step draws the randomness of the whole (global) batch, exactly as one process would, and
/// trains on its share (<see cref="BatchShare"/>); the gradients are averaged over the ranks after backward and before
/// clipping, so every rank takes the same step. Hence the data order is the one of a single process at the same global
/// batch whatever the world size, and a checkpoint resumes with any world size that divides the batch.
/// </summary>
/// <remarks>
/// TorchSharp has no per-parameter gradient hook, so the gradients are all-reduced after backward has finished, in
/// buckets of <see cref="TensorBuckets.DefaultBucketBytes"/> (no overlap of communication with backward).
/// </remarks>
public sealed class DataParallel(ICommunicator communicator) : IDisposable
{
    private TensorBuckets? _gradients;

    /// <summary>The communicator (not owned: the trainers of a tree's nodes share one, one after the other).</summary>
    public ICommunicator Communicator { get; } = communicator;

    /// <summary>Whether this rank writes checkpoints, exports and progress (rank 0).</summary>
    public bool IsWriter => Communicator.Rank == 0;

    /// <summary>This rank's share of a step's batch of <paramref name="batchSize"/>.</summary>
    public BatchShare Share(int batchSize)
    {
        if (batchSize % Communicator.WorldSize != 0)
            throw new UserException($"--batch {batchSize} does not split evenly over {Communicator.WorldSize} ranks; pick a multiple of the world size (the batch is the global one).");
        return BatchShare.Of(batchSize, Communicator.Rank, Communicator.WorldSize);
    }

    /// <summary>
    /// Makes every rank start from rank 0's state: the weights and EMA are broadcast, and the step every rank resumed at
    /// must be rank 0's (the run folder must be the same one, shared by all ranks).
    /// </summary>
    public void StartFromRankZero(IReadOnlyList<Tensor> weights, IReadOnlyList<Tensor> ema, long step)
    {
        var device = weights.Count > 0 ? weights[0].device : CPU;
        using (var steps = tensor(new[] { step }, device: device))
        {
            Communicator.Broadcast(steps, 0);
            long rootStep = steps.cpu().item<long>();
            Communicator.ThrowIfFailed();
            if (rootStep != step)
                throw new UserException($"Rank {Communicator.Rank} resumed at step {step} but rank 0 at step {rootStep}: every rank must see the same run folder (--out on a shared file system).");
        }
        using var noGrad = no_grad();
        foreach (var group in new[] { weights, ema })
        {
            using var buckets = new TensorBuckets(group);
            buckets.Broadcast(Communicator, group, 0);
        }
        Communicator.ThrowIfFailed();
    }

    /// <summary>
    /// Replaces each parameter's gradient by its mean over the ranks. A parameter without a gradient on every rank is
    /// left alone (as one process would); one that has a gradient on some ranks only is an error, since the ranks would
    /// then step differently.
    /// </summary>
    public void AverageGradients(IReadOnlyList<(string Name, Parameter Param)> parameters, long step)
    {
        var grads = parameters.Select(p => p.Param.grad).ToList();
        var device = parameters[0].Param.device;
        using (var present = tensor(grads.Select(g => g is null ? 0f : 1f).ToArray(), device: device))
        {
            Communicator.AllReduceSum(present);
            var counts = present.cpu().data<float>().ToArray();
            Communicator.ThrowIfFailed();
            int mixed = Array.FindIndex(counts, c => c != 0 && c != Communicator.WorldSize);
            if (mixed >= 0)
                throw new UserException($"At step {step} parameter '{parameters[mixed].Name}' has a gradient on {counts[mixed]} of {Communicator.WorldSize} ranks; the ranks would diverge.");
        }
        _gradients ??= new TensorBuckets(parameters.Select(p => (Tensor)p.Param).ToList());
        _gradients.AllReduceMean(Communicator, grads);
        foreach (var g in grads) g?.Dispose();
        Communicator.ThrowIfFailed();
    }

    /// <summary>
    /// Replaces the flat gradient of every parameter (<see cref="FlatParameters.Gradients"/>) by its mean over the ranks, in one
    /// all-reduce; a parameter without a gradient on a rank has zeros there, as an unused parameter has in one process.
    /// </summary>
    public void AverageGradients(Tensor flat)
    {
        Communicator.AllReduceSum(flat);
        if (Communicator.WorldSize > 1) flat.div_(Communicator.WorldSize);
        Communicator.ThrowIfFailed();
    }

    /// <summary>The mean of <paramref name="value"/> over the ranks (a step's loss).</summary>
    public double Mean(double value, Device device)
    {
        using var t = tensor(new[] { value }, device: device);
        Communicator.AllReduceSum(t);
        double sum = t.cpu().item<double>();
        Communicator.ThrowIfFailed();
        return sum / Communicator.WorldSize;
    }

    /// <summary>True on every rank when any rank asks to stop, so that all stop after the same step.</summary>
    public bool AnyStops(bool stop, Device device)
    {
        using var t = tensor(new[] { stop ? 1f : 0f }, device: device);
        Communicator.AllReduceSum(t);
        bool any = t.cpu().item<float>() > 0;
        Communicator.ThrowIfFailed();
        return any;
    }

    /// <summary>Waits until every rank has come here (after rank 0 has written files the others read next).</summary>
    public void Barrier(Device device) => AnyStops(false, device);

    /// <inheritdoc />
    public void Dispose()
    {
        _gradients?.Dispose();
    }
}
