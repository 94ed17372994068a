using static TorchSharp.torch;

namespace EDiffI.IO;

/// <summary>
/// Weights kept in 8 bits on disk: a floating tensor of rank 2 or more with at least <see cref="MinElements"/> elements
/// is stored as int8 with one float16 scale per output channel (symmetric: the channel's largest magnitude maps to 127),
/// in a companion tensor named <c>name + </c><see cref="ScaleSuffix"/>. Readers turn the pair back into one float32
/// tensor, so a quantized file loads wherever a float one does; the arithmetic stays in floating point. Biases,
/// normalisation weights and small tensors stay as they are (they are few bytes and the most sensitive).
/// </summary>
public static class Int8Weights
{
    /// <summary>The suffix of a quantized tensor's companion scale tensor.</summary>
    public const string ScaleSuffix = ".int8_scale";

    /// <summary>Tensors with fewer elements than this stay as they are.</summary>
    public const long MinElements = 256;

    // float16's smallest positive (subnormal) value, 2^-24.
    private const double SmallestScale = 5.9604644775390625e-8;

    /// <summary>Whether <see cref="Quantize(IReadOnlyDictionary{string, Tensor})"/> stores <paramref name="tensor"/> in 8 bits.</summary>
    public static bool Quantizes(Tensor tensor) =>
        tensor.is_floating_point() && tensor.dim() >= 2 && tensor.numel() >= MinElements;

    /// <summary>
    /// The 8-bit form of <paramref name="tensors"/>: each tensor <see cref="Quantizes"/> accepts becomes an int8 tensor
    /// of the same shape and name plus its scales [shape[0]] (float16); the others are passed through. The result's
    /// tensors are new and belong to the caller.
    /// </summary>
    /// <exception cref="ArgumentException">When a name already ends in <see cref="ScaleSuffix"/> (the file is quantized already).</exception>
    public static Dictionary<string, Tensor> Quantize(IReadOnlyDictionary<string, Tensor> tensors)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (name, tensor) in tensors)
        {
            if (name.EndsWith(ScaleSuffix, StringComparison.Ordinal))
                throw new ArgumentException($"'{name}' is already an 8-bit scale: these weights are quantized already.", nameof(tensors));
            if (!Quantizes(tensor))
            {
                result[name] = tensor.detach().cpu().clone();
                continue;
            }
            var (q, scale) = Quantize(tensor);
            result[name] = q;
            result[name + ScaleSuffix] = scale;
        }
        return result;
    }

    /// <summary>
    /// One tensor in 8 bits: int8 values and float16 scales, one per slice along dimension 0, such that
    /// values × scale is within half a scale step of <paramref name="tensor"/>. An all-zero slice gets scale 1.
    /// </summary>
    public static (Tensor Values, Tensor Scale) Quantize(Tensor tensor)
    {
        using var scope = NewDisposeScope();
        var w = tensor.detach().cpu().to(ScalarType.Float32);
        var rows = w.reshape(w.shape[0], -1);
        // The scale is rounded to float16 before dividing, so the stored scale is the one the values were made with. A
        // channel so small that its scale would round to zero in float16 (largest |w| under about 4e-6) gets float16's
        // smallest step instead, so it never divides by zero; its error stays under that step (6e-8).
        var absMax = rows.abs().amax([1L]);
        var scale = where(absMax > 0, (absMax / 127.0).clamp_min(SmallestScale), ones_like(absMax)).to(ScalarType.Float16).to(ScalarType.Float32);
        var values = (rows / scale.unsqueeze(1)).round().clamp(-127, 127).to(ScalarType.Int8).reshape(w.shape);
        return (values.MoveToOuterDisposeScope(), scale.to(ScalarType.Float16).MoveToOuterDisposeScope());
    }

    /// <summary>The float32 tensor an int8 tensor and its scales stand for.</summary>
    /// <exception cref="InvalidDataException">When the pair does not fit together (<paramref name="name"/> and <paramref name="source"/> name it).</exception>
    public static Tensor Dequantize(Tensor values, Tensor scale, string name, string source)
    {
        if (PairProblem(name, values.dtype, values.shape, scale.shape) is { } problem)
            throw new InvalidDataException($"'{source}': {problem}.");
        using var scope = NewDisposeScope();
        var shape = new long[values.dim()];
        Array.Fill(shape, 1L);
        shape[0] = values.shape[0];
        var result = values.to(ScalarType.Float32) * scale.to(ScalarType.Float32).view(shape);
        return result.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Why a stored tensor <paramref name="name"/> of <paramref name="dtype"/> and <paramref name="shape"/> cannot pair
    /// with scales of <paramref name="scaleShape"/>, or null when it can (for readers that check before they read).
    /// </summary>
    public static string? PairProblem(string name, ScalarType dtype, long[] shape, long[] scaleShape)
    {
        if (dtype != ScalarType.Int8) return $"'{name}' has 8-bit scales but is {dtype}, not int8";
        if (shape.Length < 1 || scaleShape.Length != 1 || scaleShape[0] != shape[0])
            return $"'{name}' is [{string.Join(", ", shape)}] but its scales are [{string.Join(", ", scaleShape)}]; one scale per slice of dimension 0 was expected";
        return null;
    }

    /// <summary>
    /// Replaces each int8 tensor of <paramref name="tensors"/> that has a companion scale by its float32 value and drops
    /// the scale tensors; a dictionary without scales is returned as it is. Replaced tensors are disposed.
    /// </summary>
    /// <exception cref="InvalidDataException">For a scale without its tensor, or a pair that does not fit together.</exception>
    public static Dictionary<string, Tensor> Expand(Dictionary<string, Tensor> tensors, string source)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        var scales = tensors.Keys.Where(k => k.EndsWith(ScaleSuffix, StringComparison.Ordinal)).ToList();
        foreach (string scaleName in scales)
        {
            string name = scaleName[..^ScaleSuffix.Length];
            if (!tensors.TryGetValue(name, out var values))
                throw new InvalidDataException($"'{source}' has 8-bit scales '{scaleName}' but no tensor '{name}' for them.");
            var scale = tensors[scaleName];
            tensors[name] = Dequantize(values, scale, name, source);
            tensors.Remove(scaleName);
            values.Dispose();
            scale.Dispose();
        }
        return tensors;
    }

    /// <summary>Whether a file's tensor names show 8-bit weights.</summary>
    public static bool IsQuantized(IEnumerable<string> names) => names.Any(n => n.EndsWith(ScaleSuffix, StringComparison.Ordinal));
}
