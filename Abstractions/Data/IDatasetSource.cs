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
}
