using static TorchSharp.torch;

namespace EDiffI.Attention;

/// <summary>softmax(QKᵀ/√d + mask) V, through the fused scaled-dot-product kernel.</summary>
public sealed class DefaultCrossAttentionProcessor : ICrossAttentionProcessor
{
    /// <summary>The shared instance.</summary>
    public static DefaultCrossAttentionProcessor Instance { get; } = new();

    /// <inheritdoc />
    public Tensor Attend(CrossAttentionInputs inputs)
    {
        using var mask = inputs.KeyMask.view(inputs.KeyMask.shape[0], 1, 1, inputs.KeyMask.shape[1]);
        return nn.functional.scaled_dot_product_attention(inputs.Query, inputs.Key, inputs.Value, mask);
    }
}
