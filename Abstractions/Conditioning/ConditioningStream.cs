using static TorchSharp.torch;

namespace EDiffI.Conditioning;

/// <summary>
/// One named conditioning stream that a conditioner produces for the network's generic slots (described
/// in the network's configuration by the same name): any of extra cross-attention tokens with their mask,
/// a pooled vector added to the time embedding, and a spatial map at the network's input resolution.
/// A dropped sample has zero tensors and an all-false mask, exactly as conditioning dropout makes it.
/// </summary>
/// <param name="Tokens">Per-token vectors, [B, L, D], at the conditioner's own width D; null when the stream has none.</param>
/// <param name="Mask">True where a token is real, [B, L] boolean; required with <paramref name="Tokens"/>.</param>
/// <param name="Pooled">One vector per sample, [B, P]; null when the stream has none.</param>
/// <param name="Spatial">A map at the input resolution, [B, C, H, W]; null when the stream has none.</param>
public sealed record ConditioningStream(Tensor? Tokens = null, Tensor? Mask = null, Tensor? Pooled = null, Tensor? Spatial = null) : IDisposable
{
    /// <summary>Number of samples, from whichever tensor is present.</summary>
    public long BatchSize => (Tokens ?? Pooled ?? Spatial ?? throw new InvalidOperationException("an empty conditioning stream")).shape[0];

    /// <summary>Checks the tensors agree with each other; throws an <see cref="ArgumentException"/> naming the stream otherwise.</summary>
    public void Validate(string name)
    {
        if (Tokens is null && Pooled is null && Spatial is null)
            throw new ArgumentException($"conditioning stream '{name}' carries no tensor");
        long b = BatchSize;
        if (Tokens is not null)
        {
            if (Tokens.dim() != 3 || Tokens.shape[0] != b) throw new ArgumentException($"stream '{name}': tokens must be [B, L, D], got [{string.Join(", ", Tokens.shape)}]");
            if (Mask is null || Mask.dtype != ScalarType.Bool || Mask.dim() != 2 || Mask.shape[0] != b || Mask.shape[1] != Tokens.shape[1])
                throw new ArgumentException($"stream '{name}': tokens need a boolean mask of shape [{b}, {Tokens.shape[1]}]");
        }
        if (Pooled is not null && (Pooled.dim() != 2 || Pooled.shape[0] != b))
            throw new ArgumentException($"stream '{name}': the pooled vector must be [B, P], got [{string.Join(", ", Pooled.shape)}]");
        if (Spatial is not null && (Spatial.dim() != 4 || Spatial.shape[0] != b))
            throw new ArgumentException($"stream '{name}': the spatial map must be [B, C, H, W], got [{string.Join(", ", Spatial.shape)}]");
    }

    /// <summary>The same stream with every sample dropped: zeros of the same shapes, nothing to attend to.</summary>
    public ConditioningStream Dropped(long batch) => new(
        Tokens is null ? null : zeros([batch, Tokens.shape[1], Tokens.shape[2]], dtype: Tokens.dtype, device: Tokens.device),
        Mask is null ? null : zeros([batch, Mask.shape[1]], dtype: ScalarType.Bool, device: Mask.device),
        Pooled is null ? null : zeros([batch, Pooled.shape[1]], dtype: Pooled.dtype, device: Pooled.device),
        Spatial is null ? null : zeros([batch, Spatial.shape[1], Spatial.shape[2], Spatial.shape[3]], dtype: Spatial.dtype, device: Spatial.device));

    /// <summary>
    /// Per-sample conditioning dropout (eDiff-I zeroes the whole tensor): sample b keeps the stream where
    /// <paramref name="keep"/>[b] is true.
    /// </summary>
    public ConditioningStream KeepWhere(Tensor keep)
    {
        Tensor Scale(Tensor t)
        {
            var shape = new long[t.dim()];
            Array.Fill(shape, 1L);
            shape[0] = -1;
            return t * keep.to(t.dtype, t.device).view(shape);
        }
        return new(Tokens is null ? null : Scale(Tokens), Mask?.logical_and(keep.to(ScalarType.Bool, Mask.device).view(-1, 1)),
            Pooled is null ? null : Scale(Pooled), Spatial is null ? null : Scale(Spatial));
    }

    /// <summary>The samples at <paramref name="rows"/> (int64 indices), in that order.</summary>
    public ConditioningStream SelectRows(Tensor rows) => new(
        Tokens?.index_select(0, rows.to(Tokens.device)), Mask?.index_select(0, rows.to(Mask.device)),
        Pooled?.index_select(0, rows.to(Pooled.device)), Spatial?.index_select(0, rows.to(Spatial.device)));

    /// <summary>A single row repeated over <paramref name="batch"/> samples (a request's input shared by its batch).</summary>
    public ConditioningStream Expand(long batch)
    {
        if (BatchSize == batch) return this;
        if (BatchSize != 1) throw new ArgumentException($"cannot spread a stream of {BatchSize} samples over {batch}");
        return new(Tokens?.expand(batch, -1, -1), Mask?.expand(batch, -1), Pooled?.expand(batch, -1), Spatial?.expand(batch, -1, -1, -1));
    }

    /// <summary>Concatenates two batches; a side without the stream (null) is filled with dropped samples.</summary>
    public static ConditioningStream? Concat(ConditioningStream? a, long batchA, ConditioningStream? b, long batchB)
    {
        if (a is null && b is null) return null;
        a ??= b!.Dropped(batchA);
        b ??= a.Dropped(batchB);
        static Tensor? Cat(Tensor? x, Tensor? y) => x is null || y is null ? null : cat([x, y], 0);
        return new(Cat(a.Tokens, b.Tokens), Cat(a.Mask, b.Mask), Cat(a.Pooled, b.Pooled), Cat(a.Spatial, b.Spatial));
    }

    /// <inheritdoc />
    public void Dispose()
    {
        Tokens?.Dispose();
        Mask?.Dispose();
        Pooled?.Dispose();
        Spatial?.Dispose();
    }
}
