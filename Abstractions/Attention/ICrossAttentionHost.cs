namespace EDiffI.Attention;

/// <summary>A network whose cross-attention layers accept swapped-in processors.</summary>
public interface ICrossAttentionHost
{
    /// <summary>Every cross-attention layer, in forward order.</summary>
    IReadOnlyList<CrossAttentionLayer> CrossAttentionLayers { get; }

    /// <summary>
    /// Sets the processor of each layer to what <paramref name="select"/> returns for it; null
    /// restores the default processor.
    /// </summary>
    void SetCrossAttentionProcessor(Func<CrossAttentionLayer, ICrossAttentionProcessor?> select);
}
