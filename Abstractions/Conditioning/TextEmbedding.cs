using static TorchSharp.torch;

namespace EDiffI.Conditioning;

/// <summary>
/// The output of a text encoder for a batch of prompts: one embedding per token, which tokens are
/// real, and a pooled vector for the whole prompt. A dropped stream (classifier-free training or
/// the unconditional branch of guidance) has zero tokens, an all-false mask and a zero pooled vector.
/// </summary>
/// <param name="Tokens">Per-token embeddings, shape [B, L, D].</param>
/// <param name="Mask">True where a token is real, false at padding; shape [B, L], boolean.</param>
/// <param name="Pooled">One vector per prompt, shape [B, P]; null when the encoder has none.</param>
public sealed record TextEmbedding(Tensor Tokens, Tensor Mask, Tensor? Pooled)
{
    /// <summary>Number of prompts in the batch.</summary>
    public long BatchSize => Tokens.shape[0];

    /// <summary>Number of token positions (including padding).</summary>
    public long Length => Tokens.shape[1];

    /// <summary>A dropped stream: zero embeddings, nothing to attend to, zero pooled vector.</summary>
    public static TextEmbedding Dropped(long batch, long length, long dim, long? pooledDim, ScalarType dtype, Device device) =>
        new(zeros(batch, length, dim, dtype: dtype, device: device),
            zeros(batch, length, dtype: ScalarType.Bool, device: device),
            pooledDim is long p ? zeros(batch, p, dtype: dtype, device: device) : null);

    /// <summary>This embedding padded with masked zero tokens to <paramref name="length"/> positions.</summary>
    public TextEmbedding PadTo(long length)
    {
        if (length == Length) return this;
        if (length < Length) throw new ArgumentOutOfRangeException(nameof(length), "cannot pad to fewer tokens than present");
        long extra = length - Length;
        var padTokens = zeros(BatchSize, extra, Tokens.shape[2], dtype: Tokens.dtype, device: Tokens.device);
        var padMask = zeros(BatchSize, extra, dtype: ScalarType.Bool, device: Mask.device);
        return new(cat([Tokens, padTokens], 1), cat([Mask, padMask], 1), Pooled);
    }

    /// <summary>
    /// Keeps sample b where <paramref name="keep"/>[b] is true and drops it otherwise (zero tokens,
    /// masked, zero pooled): the per-sample conditioning dropout of classifier-free training.
    /// </summary>
    public TextEmbedding KeepWhere(Tensor keep)
    {
        var k = keep.to(ScalarType.Bool).to(Tokens.device);
        return new(Tokens * k.view(-1, 1, 1).to(Tokens.dtype),
                   Mask.logical_and(k.view(-1, 1)),
                   Pooled is null ? null : Pooled * k.view(-1, 1).to(Pooled.dtype));
    }

    /// <summary>Concatenates two batches along the batch axis, padding the shorter to equal length.</summary>
    public static TextEmbedding Concat(TextEmbedding a, TextEmbedding b)
    {
        long length = Math.Max(a.Length, b.Length);
        a = a.PadTo(length);
        b = b.PadTo(length);
        Tensor? pooled = (a.Pooled, b.Pooled) switch
        {
            (null, null) => null,
            (Tensor pa, Tensor pb) => cat([pa, pb], 0),
            _ => throw new ArgumentException("cannot concatenate a text embedding with a pooled vector and one without"),
        };
        return new(cat([a.Tokens, b.Tokens], 0), cat([a.Mask, b.Mask], 0), pooled);
    }

    /// <summary>The prompts at <paramref name="rows"/> (int64 indices), in that order.</summary>
    public TextEmbedding SelectRows(Tensor rows) =>
        new(Tokens.index_select(0, rows.to(Tokens.device)), Mask.index_select(0, rows.to(Mask.device)),
            Pooled?.index_select(0, rows.to(Pooled.device)));

    /// <summary>Moves every tensor to <paramref name="device"/> and casts the embeddings to <paramref name="dtype"/>.</summary>
    public TextEmbedding To(Device device, ScalarType dtype) =>
        new(Tokens.to(dtype, device), Mask.to(device), Pooled?.to(dtype, device));
}
