using EDiffI.Conditioning;
using EDiffI.Networks;
using EDiffI.Sampling;
using static TorchSharp.torch;

namespace EDiffI.Denoising;

/// <summary>
/// The offsets by which a periodic image is rolled before each evaluation of a denoiser (and rolled back after it).
/// With circular padding a convolutional denoiser has no border, but it is not shift-invariant: its downsamplings lay a
/// grid of coarse cells whose boundaries always include the wrap edge, and a model trained on bordered images has learned
/// to put hard features (mortar lines, plank gaps) at the image's edge. Moving the image under that grid at every
/// evaluation spreads both over all positions, so the wrap edge is no longer a special place. Training-free; the
/// offsets are a pure function of <paramref name="seed"/> and the evaluation's index, so a generation is reproducible.
/// </summary>
/// <param name="axes">The axes that wrap; the others are never rolled.</param>
/// <param name="seed">Selects the sequence of offsets.</param>
public sealed class TileShifts(TileAxes axes, long seed)
{
    private long _evaluations;

    /// <summary>The axes that are rolled.</summary>
    public TileAxes Axes { get; } = axes;

    /// <summary>The offsets (rows, columns) for the next evaluation of an image of <paramref name="height"/> × <paramref name="width"/>.</summary>
    public (long Rows, long Columns) Next(long height, long width)
    {
        ulong z = SeedMix.Of(seed, (ulong)Interlocked.Increment(ref _evaluations));
        long rows = Axes.HasFlag(TileAxes.Y) ? (long)(z % (ulong)height) : 0;
        long columns = Axes.HasFlag(TileAxes.X) ? (long)(SeedMix.Mix(z) % (ulong)width) : 0;
        return (rows, columns);
    }

    /// <summary>
    /// Runs <paramref name="denoise"/> on <paramref name="x"/> (and on <paramref name="alongside"/>, images of the same
    /// size that condition it, such as a super-resolution stage's low-resolution stream) rolled by the next offsets, and
    /// rolls its estimate back.
    /// </summary>
    public Tensor Around(Tensor x, Tensor? alongside, Func<Tensor, Tensor?, Tensor> denoise)
    {
        if (x.dim() != 4) throw new ArgumentException($"expected images [B, C, H, W], got {x.dim()} dimensions", nameof(x));
        var (rows, columns) = Next(x.shape[2], x.shape[3]);
        if (rows == 0 && columns == 0) return denoise(x, alongside);
        using var rolled = x.roll([rows, columns], [2, 3]);
        using var rolledAlongside = alongside?.roll([rows, columns], [2, 3]);
        using var estimate = denoise(rolled, rolledAlongside);
        return estimate.roll([-rows, -columns], [2, 3]);
    }
}

/// <summary>
/// A denoiser evaluated on its periodic input rolled by <see cref="TileShifts"/> (see there for why), the estimate rolled
/// back. Wrap the guided denoiser as a whole, so the conditional and unconditional estimates see the same offset.
/// </summary>
public sealed class ShiftedTilingDenoiser(IDenoiser inner, TileShifts shifts) : IDenoiser
{
    /// <inheritdoc />
    public Tensor Denoise(Tensor x, Tensor sigma, ConditioningInputs conditioning) => shifts.Around(x, null, (rolled, _) => inner.Denoise(rolled, sigma, conditioning));

    /// <inheritdoc />
    public Tensor Denoise(Tensor x, double sigma, ConditioningInputs conditioning) => shifts.Around(x, null, (rolled, _) => inner.Denoise(rolled, sigma, conditioning));
}
