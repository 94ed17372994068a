using static TorchSharp.torch;

namespace EDiffI.Host.Training.Distributed;

/// <summary>
/// Groups a fixed list of tensors (a network's gradients or weights, in parameter order) into flat buffers of at most
/// <see cref="BucketBytes"/> each, so a collective moves a few large buffers instead of hundreds of small tensors. A
/// tensor larger than a bucket gets a bucket of its own; tensors of different dtypes never share one. The layout depends
/// only on the shapes, so every rank builds the same one. The buffers are made once and reused.
/// </summary>
public sealed class TensorBuckets : IDisposable
{
    /// <summary>The default bucket size (25 MiB), as PyTorch's DistributedDataParallel uses.</summary>
    public const long DefaultBucketBytes = 25L << 20;

    private readonly List<Bucket> _buckets = [];

    /// <summary>One flat buffer and the tensors it holds: <c>[First, First + Count)</c> of the list, at their offsets.</summary>
    /// <param name="First">Index of its first tensor in the list.</param>
    /// <param name="Count">How many tensors it holds.</param>
    /// <param name="Offsets">Each tensor's first element in <paramref name="Buffer"/>.</param>
    /// <param name="Buffer">The flat buffer.</param>
    public sealed record Bucket(int First, int Count, long[] Offsets, Tensor Buffer);

    /// <summary>Largest bucket in bytes (unless one tensor alone is larger).</summary>
    public long BucketBytes { get; }

    /// <summary>The buckets, in list order.</summary>
    public IReadOnlyList<Bucket> Buckets => _buckets;

    /// <summary>Lays out buckets for tensors shaped like <paramref name="like"/> (their values are not read).</summary>
    public TensorBuckets(IReadOnlyList<Tensor> like, long bucketBytes = DefaultBucketBytes)
    {
        if (bucketBytes < 1) throw new ArgumentOutOfRangeException(nameof(bucketBytes), "a bucket must hold at least one byte");
        BucketBytes = bucketBytes;
        int first = 0;
        while (first < like.Count)
        {
            var dtype = like[first].dtype;
            long elementSize = like[first].ElementSize, elements = 0;
            var offsets = new List<long>();
            int next = first;
            while (next < like.Count && like[next].dtype == dtype &&
                   (offsets.Count == 0 || (elements + like[next].NumberOfElements) * elementSize <= bucketBytes))
            {
                offsets.Add(elements);
                elements += like[next].NumberOfElements;
                next++;
            }
            var buffer = zeros([elements], dtype, like[first].device).DetachFromDisposeScope();
            _buckets.Add(new Bucket(first, next - first, [.. offsets], buffer));
            first = next;
        }
    }

    /// <summary>Copies the bucket's tensors (a null one as zeros) into its buffer and returns the buffer.</summary>
    public Tensor Flatten(Bucket bucket, IReadOnlyList<Tensor?> tensors)
    {
        using var noGrad = no_grad();
        for (int i = 0; i < bucket.Count; i++)
        {
            using var slot = Slot(bucket, i, tensors[bucket.First + i], out var t);
            if (t is null) slot.zero_();
            else slot.copy_(t.reshape(-1));
        }
        return bucket.Buffer;
    }

    /// <summary>Copies the bucket's buffer back into its tensors (null ones are skipped).</summary>
    public void Unflatten(Bucket bucket, IReadOnlyList<Tensor?> tensors)
    {
        using var noGrad = no_grad();
        for (int i = 0; i < bucket.Count; i++)
        {
            using var slot = Slot(bucket, i, tensors[bucket.First + i], out var t);
            if (t is not null) t.copy_(slot.view(t.shape));
        }
    }

    // The view of tensor i's elements in the bucket's buffer; its length comes from the layout, not from the tensor.
    private static Tensor Slot(Bucket bucket, int i, Tensor? tensor, out Tensor? t)
    {
        long start = bucket.Offsets[i];
        long end = i + 1 < bucket.Count ? bucket.Offsets[i + 1] : bucket.Buffer.NumberOfElements;
        if (tensor is not null && tensor.NumberOfElements != end - start)
            throw new ArgumentException($"tensor {bucket.First + i} has {tensor.NumberOfElements} elements; the layout holds {end - start}");
        t = tensor;
        return bucket.Buffer.narrow(0, start, end - start);
    }

    /// <summary>
    /// Sums <paramref name="tensors"/> over all ranks bucket by bucket and divides by the world size: every rank ends with
    /// the mean. Null entries count as zeros and are left null.
    /// </summary>
    public void AllReduceMean(ICommunicator communicator, IReadOnlyList<Tensor?> tensors)
    {
        foreach (var bucket in _buckets)
        {
            var flat = Flatten(bucket, tensors);
            communicator.AllReduceSum(flat);
            if (communicator.WorldSize > 1) flat.div_(communicator.WorldSize);
            Unflatten(bucket, tensors);
        }
    }

    /// <summary>Replaces <paramref name="tensors"/> on every rank by rank <paramref name="root"/>'s, bucket by bucket.</summary>
    public void Broadcast(ICommunicator communicator, IReadOnlyList<Tensor> tensors, int root)
    {
        foreach (var bucket in _buckets)
        {
            communicator.Broadcast(Flatten(bucket, tensors), root);
            Unflatten(bucket, tensors);
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var b in _buckets) b.Buffer.Dispose();
    }
}
