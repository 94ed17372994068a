using EDiffI.Conditioning;
using static TorchSharp.torch;

namespace EDiffI.Encoders;

/// <summary>Which conditioning stream of the denoiser an encoder feeds.</summary>
public enum TextStream
{
    /// <summary>The T5 token stream (cross-attention only).</summary>
    T5,
    /// <summary>The CLIP text stream (tokens to cross-attention, pooled vector to the time embedding).</summary>
    Clip,
}

/// <summary>A frozen text encoder: prompts to per-token embeddings, a padding mask and a pooled vector.</summary>
public interface ITextEncoder : IDisposable
{
    /// <summary>The name configuration selects it by.</summary>
    string Name { get; }

    /// <summary>Width D of each token embedding.</summary>
    int Dimension { get; }

    /// <summary>Width of the pooled vector, or null when the encoder has none.</summary>
    int? PooledDimension { get; }

    /// <summary>Most tokens per prompt; longer prompts are truncated.</summary>
    int MaxTokens { get; }

    /// <summary>Encodes a batch of prompts onto <paramref name="device"/> (float32).</summary>
    TextEmbedding Encode(IReadOnlyList<string> prompts, Device device);
}

/// <summary>A frozen image encoder (CLIP's vision tower in eDiff-I): images to one pooled embedding each.</summary>
public interface IImageEncoder
{
    /// <summary>The name configuration selects it by.</summary>
    string Name { get; }

    /// <summary>Width of the pooled embedding.</summary>
    int Dimension { get; }

    /// <summary>Encodes RGB images in [−1, 1], [B, 3, H, W], to [B, Dimension] (float32).</summary>
    Tensor Encode(Tensor images);
}
