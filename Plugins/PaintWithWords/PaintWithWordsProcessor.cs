using EDiffI.Attention;
using static TorchSharp.torch;

namespace EDiffI.Plugins.PaintWithWords;

/// <summary>
/// Cross-attention with paint-with-words (eDiff-I, Section 4.3): softmax(QKᵀ/√d + ω(σ)·A) V, where
/// A ties each query pixel inside a region to the tokens of the region's phrase. Without a
/// <see cref="PaintContext"/> in the conditioning, or with w′ = 0, it is plain attention.
/// </summary>
public sealed class PaintWithWordsProcessor : ICrossAttentionProcessor
{
    /// <summary>The shared instance (the processor keeps no state; the context travels with the conditioning).</summary>
    public static PaintWithWordsProcessor Instance { get; } = new();

    /// <inheritdoc />
    public Tensor Attend(CrossAttentionInputs inputs)
    {
        var paint = inputs.Conditioning.Get<PaintContext>();
        if (paint is null || paint.Weight == 0) return DefaultCrossAttentionProcessor.Instance.Attend(inputs);
        using var scope = NewDisposeScope();
        var (q, k, v) = (inputs.Query, inputs.Key, inputs.Value);
        long batch = q.shape[0], queries = q.shape[2], length = k.shape[2];
        var layer = inputs.Layer;
        if (queries != (long)layer.Height * layer.Width)
            throw new InvalidOperationException($"layer {layer.Name} has {queries} queries, not {layer.Height}×{layer.Width}");
        var keyMask = inputs.KeyMask.to(q.device).view(batch, 1, 1, length);
        // QKᵀ/√d once, in float32: ω(σ) reads it and the softmax is taken over it plus ω(σ)·A.
        var logits = q.matmul(k.transpose(-2, -1)).to(ScalarType.Float32) / Math.Sqrt(q.shape[3]);
        var sigma = inputs.Sigma.to(ScalarType.Float32, q.device).flatten().expand(batch);
        var omega = paint.WeightFunction(paint.Weight, sigma, logits, keyMask);
        var a = paint.RegionTokenMatrix(layer.Height, layer.Width, inputs.Layout, length, q.device); // kept by the context
        var biased = (logits + omega.view(batch, 1, 1, 1) * a.view(1, 1, queries, length))
            .masked_fill(keyMask.logical_not(), double.NegativeInfinity);
        return biased.softmax(-1).to(q.dtype).matmul(v).MoveToOuterDisposeScope();
    }
}
