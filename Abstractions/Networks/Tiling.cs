using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace EDiffI.Networks;

/// <summary>The axes along which an image wraps around (a seamless texture repeats along them).</summary>
[Flags]
public enum TileAxes
{
    /// <summary>No wrap: borders are padded with zeros, as in training.</summary>
    None = 0,
    /// <summary>Left and right edges meet (the texture repeats horizontally).</summary>
    X = 1,
    /// <summary>Top and bottom edges meet (the texture repeats vertically).</summary>
    Y = 2,
    /// <summary>Both: a texture that tiles a plane.</summary>
    Both = X | Y,
}

/// <summary>
/// The conditioning extra (<see cref="Conditioning.ConditioningInputs.With{T}"/>) that asks a network to treat its input
/// as periodic along <paramref name="Axes"/>: circular instead of zero padding in every convolution. Networks that
/// cannot do it say so through <see cref="INetwork.CanTile"/>; the generation service refuses tiling for them.
/// </summary>
/// <param name="Axes">The axes that wrap.</param>
/// <param name="Shift">
/// Whether sampling rolls the image by a fresh offset along the wrapping axes before every evaluation
/// (<see cref="Denoising.TileShifts"/>), so the wrap edge is not a special place for the network; networks ignore it.
/// </param>
public sealed record TilingMode(TileAxes Axes, bool Shift = true);

/// <summary>Wrap-around helpers shared by the networks, the super-resolution stages and the measurements.</summary>
public static class Tiling
{
    /// <summary>Parses "x", "y", "xy" (or "both"), "none"; null when the text is none of them.</summary>
    public static TileAxes? Parse(string? text) => text?.Trim().ToLowerInvariant() switch
    {
        "x" => TileAxes.X,
        "y" => TileAxes.Y,
        "xy" or "yx" or "both" => TileAxes.Both,
        "" or "none" or "off" => TileAxes.None,
        _ => null,
    };

    /// <summary>The short name of <paramref name="axes"/>: "x", "y", "xy" or "none".</summary>
    public static string Name(TileAxes axes) => axes switch
    {
        TileAxes.X => "x",
        TileAxes.Y => "y",
        TileAxes.Both => "xy",
        _ => "none",
    };

    /// <summary>
    /// Pads the last two dimensions of <paramref name="x"/> by <paramref name="padding"/> on every side: with the
    /// opposite edge's pixels along the axes of <paramref name="axes"/>, with zeros along the others.
    /// </summary>
    public static Tensor Pad(Tensor x, long padding, TileAxes axes)
    {
        if (padding == 0) return x.alias();
        using var scope = NewDisposeScope();
        var y = x;
        // F.pad lists (left, right) of the last dimension first, then (top, bottom).
        y = axes.HasFlag(TileAxes.X) ? F.pad(y, [padding, padding, 0, 0], PaddingModes.Circular) : F.pad(y, [padding, padding, 0, 0]);
        y = axes.HasFlag(TileAxes.Y) ? F.pad(y, [0, 0, padding, padding], PaddingModes.Circular) : F.pad(y, [0, 0, padding, padding]);
        return y.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Bicubic resampling of [B, C, h, w] to <paramref name="height"/>×<paramref name="width"/> (half-pixel centres, as
    /// PyTorch's align_corners=false) in which the wrapping axes read across the opposite edge instead of clamping:
    /// the image is padded circularly by a few source pixels, resampled, and the margin cropped, which is exact
    /// because the scale is a whole number on each axis.
    /// </summary>
    public static Tensor Bicubic(Tensor images, long height, long width, TileAxes axes)
    {
        using var scope = NewDisposeScope();
        var x = images.to(ScalarType.Float32);
        long h = x.shape[2], w = x.shape[3];
        if (axes == TileAxes.None || (height % h != 0) || (width % w != 0))
        {
            if (axes != TileAxes.None) throw new ArgumentException($"wrap-around resampling needs a whole scale factor (got {w}×{h} to {width}×{height})");
            return F.interpolate(x, [height, width], mode: InterpolationMode.Bicubic, align_corners: false).MoveToOuterDisposeScope();
        }
        const long margin = 3; // bicubic reads two source pixels on each side; one more for safety at any scale
        long sy = height / h, sx = width / w;
        long py = axes.HasFlag(TileAxes.Y) ? Math.Min(margin, h) : 0, px = axes.HasFlag(TileAxes.X) ? Math.Min(margin, w) : 0;
        var padded = F.pad(x, [px, px, py, py], PaddingModes.Circular);
        var up = F.interpolate(padded, [(h + 2 * py) * sy, (w + 2 * px) * sx], mode: InterpolationMode.Bicubic, align_corners: false);
        return up[.., .., TensorIndex.Slice(py * sy, py * sy + height), TensorIndex.Slice(px * sx, px * sx + width)].contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The seam ratio of an image along one axis: the mean absolute difference across the wrap edge (last column
    /// against the first for <see cref="TileAxes.X"/>, last row against the first for <see cref="TileAxes.Y"/>) divided
    /// by the mean absolute difference between neighbouring interior columns (rows). About 1 for a texture that repeats
    /// without a visible seam; well above 1 when the repeat shows an edge.
    /// </summary>
    /// <param name="image">[C, H, W] or [H, W], any range.</param>
    /// <param name="axis"><see cref="TileAxes.X"/> or <see cref="TileAxes.Y"/>.</param>
    /// <param name="phase">
    /// 1 compares with every interior pair (the issue's definition); a network's downsampling factor compares only with
    /// the interior pairs that straddle a boundary of its coarsest cells, as the wrap edge does, which separates a seam from
    /// the faint blockiness nearest upsampling leaves on every such boundary.
    /// </param>
    public static double SeamRatio(Tensor image, TileAxes axis, int phase = 1)
    {
        if (axis is not (TileAxes.X or TileAxes.Y)) throw new ArgumentException("the seam ratio is measured along one axis, X or Y");
        using var scope = NewDisposeScope();
        var x = image.to(ScalarType.Float64);
        if (x.dim() == 2) x = x.unsqueeze(0);
        if (x.dim() != 3) throw new ArgumentException($"the seam ratio takes [C, H, W] or [H, W], got [{string.Join(", ", image.shape)}]");
        if (axis == TileAxes.Y) x = x.transpose(1, 2); // measure rows as columns
        long n = x.shape[2];
        if (n < 3) throw new ArgumentException("the image is too narrow for a seam ratio (at least 3 pixels)");
        double seam = (x[.., .., n - 1] - x[.., .., 0]).abs().mean().item<double>();
        var steps = (x[.., .., TensorIndex.Slice(1, n)] - x[.., .., TensorIndex.Slice(0, n - 1)]).abs(); // step i: column i → i+1
        if (phase > 1)
        {
            if (n % phase != 0 || n / phase < 2) throw new ArgumentException($"a phase of {phase} needs a side that is a multiple of it, at least twice (got {n})");
            steps = steps.index_select(2, arange(phase - 1, n - 1, phase, dtype: ScalarType.Int64, device: steps.device));
        }
        double interior = steps.mean().item<double>();
        return interior > 0 ? seam / interior : seam > 0 ? double.PositiveInfinity : 1;
    }
}
