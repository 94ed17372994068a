using static TorchSharp.torch;

namespace EDiffI.Data;

/// <summary>A batch of training images with their captions.</summary>
/// <param name="Images">RGB in [−1, 1], [B, 3, H, W], float32, on the CPU.</param>
/// <param name="Captions">One caption per image.</param>
/// <param name="Conditioning">
/// Precomputed encoder outputs (an embedding cache, as eDiff-I trains): when present, training uses
/// them instead of running the encoders.
/// </param>
/// <param name="LowResolution">
/// The same images drawn by the source at a lower resolution ([B, 3, h, w], for a super-resolution stage), when
/// the source can draw a scene at several sizes (the procedural world); null otherwise.
/// </param>
public sealed record TrainingBatch(Tensor Images, IReadOnlyList<string> Captions, Conditioning.ConditioningInputs? Conditioning = null,
    Tensor? LowResolution = null) : IDisposable
{
    /// <inheritdoc />
    public void Dispose()
    {
        Images.Dispose();
        LowResolution?.Dispose();
    }
}

/// <summary>
/// Where training data comes from: a folder of captioned images, the procedural world, or an
/// embedding cache. A source is deterministic given the generator, so a resumed run sees the same
/// batches as an uninterrupted one.
/// </summary>
public interface IDatasetSource
{
    /// <summary>Side of the square images the source yields.</summary>
    int Resolution { get; }

    /// <summary>Number of distinct examples, or null for an unlimited stream.</summary>
    long? Count { get; }

    /// <summary>Draws the next batch, using only <paramref name="generator"/> for randomness.</summary>
    TrainingBatch NextBatch(int batchSize, Generator generator);

    /// <summary>
    /// Draws the next batch of <paramref name="batchSize"/> exactly as <see cref="NextBatch(int, Generator)"/> does (the
    /// same draws from <paramref name="generator"/>) but yields only the items of <paramref name="share"/>: one rank's part
    /// of a data-parallel step, so that the ranks together train on the batch one process would. The default draws the
    /// whole batch and keeps the share; a source whose items are costly to make (the procedural world) makes only the share.
    /// </summary>
    TrainingBatch NextBatch(int batchSize, Generator generator, BatchShare share)
    {
        var full = NextBatch(batchSize, generator);
        if (share.Offset == 0 && share.Count == batchSize) return full;
        using (full)
        using (var rows = arange(share.Offset, share.Offset + share.Count, dtype: ScalarType.Int64))
            return new TrainingBatch(full.Images.index_select(0, rows), full.Captions.Skip(share.Offset).Take(share.Count).ToList(),
                full.Conditioning?.SelectRows(rows), full.LowResolution?.index_select(0, rows));
    }
}

/// <summary>The items <c>[Offset, Offset + Count)</c> of a batch: what one rank of a data-parallel run trains on.</summary>
/// <param name="Offset">The first item.</param>
/// <param name="Count">How many items.</param>
public readonly record struct BatchShare(int Offset, int Count)
{
    /// <summary>Rank <paramref name="rank"/>'s share of a batch of <paramref name="batchSize"/> split evenly over <paramref name="worldSize"/> ranks.</summary>
    /// <exception cref="ArgumentException">The batch does not split evenly.</exception>
    public static BatchShare Of(int batchSize, int rank, int worldSize)
    {
        if (worldSize < 1 || rank < 0 || rank >= worldSize) throw new ArgumentOutOfRangeException(nameof(rank), $"rank {rank} of {worldSize}");
        if (batchSize % worldSize != 0) throw new ArgumentException($"a batch of {batchSize} does not split evenly over {worldSize} ranks", nameof(batchSize));
        int count = batchSize / worldSize;
        return new BatchShare(rank * count, count);
    }
}
