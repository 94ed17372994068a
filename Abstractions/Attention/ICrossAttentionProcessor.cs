using EDiffI.Conditioning;
using static TorchSharp.torch;

namespace EDiffI.Attention;

/// <summary>Identifies one cross-attention layer of a network.</summary>
/// <param name="Name">State-dict path of the layer (for example "enc.16x16_block1.xattn").</param>
/// <param name="Height">Height of the feature map the layer attends from.</param>
/// <param name="Width">Width of that feature map.</param>
/// <param name="Heads">Number of attention heads.</param>
public sealed record CrossAttentionLayer(string Name, int Height, int Width, int Heads);

/// <summary>
/// Where each conditioning stream sits in the concatenated cross-attention context (eDiff-I,
/// Appendix A): CLIP text tokens, then T5 tokens, then the CLIP image token, then the null token.
/// </summary>
public sealed record ContextLayout(int ClipStart, int ClipLength, int T5Start, int T5Length, int ImageIndex, int NullIndex)
{
    /// <summary>Total number of context tokens.</summary>
    public int Length => NullIndex + 1;
}

/// <summary>Everything an attention processor sees for one call of one layer.</summary>
/// <param name="Query">Queries, [B, heads, H·W, head dim].</param>
/// <param name="Key">Keys, [B, heads, context length, head dim].</param>
/// <param name="Value">Values, same shape as Key.</param>
/// <param name="KeyMask">True where a context token may be attended to, [B, context length].</param>
/// <param name="Layer">Which layer this is.</param>
/// <param name="Layout">Where each stream sits in the context.</param>
/// <param name="Sigma">Noise level per sample, [B] (float32).</param>
/// <param name="Conditioning">The conditioning of the call, with any plugin extras.</param>
public sealed record CrossAttentionInputs(
    Tensor Query, Tensor Key, Tensor Value, Tensor KeyMask,
    CrossAttentionLayer Layer, ContextLayout Layout, Tensor Sigma, ConditioningInputs Conditioning);

/// <summary>
/// Computes cross-attention for a layer; swapped in per layer, as diffusers' attention processors
/// are. Paint-with-words is one: it adds its region term to the attention logits.
/// </summary>
public interface ICrossAttentionProcessor
{
    /// <summary>Attention output, [B, heads, H·W, head dim].</summary>
    Tensor Attend(CrossAttentionInputs inputs);
}
