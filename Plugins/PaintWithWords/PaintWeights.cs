using static TorchSharp.torch;

namespace EDiffI.Plugins.PaintWithWords;

/// <summary>
/// ω(σ) of paint-with-words: how strongly region tokens are boosted, per sample.
/// </summary>
/// <param name="weight">The user's w′.</param>
/// <param name="sigma">Noise level per sample, [B].</param>
/// <param name="logits">Attention logits QKᵀ/√d, [B, heads, H·W, L].</param>
/// <param name="keyMask">True where a key may be attended to, [B, 1, 1, L].</param>
/// <returns>ω per sample, [B].</returns>
public delegate Tensor PaintWeightFunction(double weight, Tensor sigma, Tensor logits, Tensor keyMask);

/// <summary>The weight functions of paint-with-words.</summary>
public static class PaintWeights
{
    /// <summary>eDiff-I, Section 4.3: ω(σ) = w′·log(1 + σ)·max(QKᵀ), the max over each sample's attended logits.</summary>
    public static Tensor Max(double weight, Tensor sigma, Tensor logits, Tensor keyMask)
    {
        using var valid = logits.masked_fill(keyMask.logical_not(), double.NegativeInfinity);
        return weight * (1 + sigma).log() * valid.amax([1, 2, 3]);
    }

    /// <summary>A scale-robust variant: ω(σ) = w′·log(1 + σ)·std(QKᵀ), the spread of each sample's attended logits.</summary>
    public static Tensor Std(double weight, Tensor sigma, Tensor logits, Tensor keyMask)
    {
        using var scope = NewDisposeScope();
        var m = keyMask.to(logits.dtype).expand_as(logits);
        var n = m.sum([1, 2, 3]);
        var mean = (logits * m).sum([1, 2, 3]) / n;
        var centred = (logits - mean.view(-1, 1, 1, 1)) * m;
        var std = (centred.square().sum([1, 2, 3]) / (n - 1).clamp_min(1)).sqrt();
        return (weight * (1 + sigma).log() * std).MoveToOuterDisposeScope();
    }
}
