using static TorchSharp.torch;

namespace EDiffI.Conditioning;

/// <summary>
/// Everything a denoiser is conditioned on besides x and σ (eDiff-I, Section 4 and Appendix A):
/// the T5 text tokens, the CLIP text tokens with their pooled vector, and the CLIP image embedding.
/// A null stream is dropped: the network sees zeros, as in classifier-free training.
/// </summary>
/// <param name="T5Text">T5 per-token embeddings; null when dropped.</param>
/// <param name="ClipText">CLIP text per-token embeddings and pooled vector; null when dropped.</param>
/// <param name="ClipImage">Pooled CLIP image embedding, shape [B, D]; null when dropped (no style reference).</param>
/// <param name="Extensions">Typed extras for plugins (for example paint-with-words masks), keyed by type.</param>
/// <param name="Streams">
/// Named streams from conditioners (<see cref="IConditioner"/>) for the network's generic slots of the same
/// names; a stream absent here is not fed at all, so a model with an unused slot draws as without it.
/// </param>
public sealed record ConditioningInputs(
    TextEmbedding? T5Text = null,
    TextEmbedding? ClipText = null,
    Tensor? ClipImage = null,
    IReadOnlyDictionary<Type, object>? Extensions = null,
    IReadOnlyDictionary<string, ConditioningStream>? Streams = null)
{
    /// <summary>Nothing at all: the unconditional model of classifier-free guidance.</summary>
    public static ConditioningInputs Unconditional { get; } = new();

    /// <summary>True when every stream is dropped.</summary>
    public bool IsUnconditional => T5Text is null && ClipText is null && ClipImage is null && (Streams is null || Streams.Count == 0);

    /// <summary>The stream named <paramref name="name"/>, or null when none was given.</summary>
    public ConditioningStream? Stream(string name) => Streams is not null && Streams.TryGetValue(name, out var s) ? s : null;

    /// <summary>A copy with <paramref name="stream"/> as the stream named <paramref name="name"/>.</summary>
    public ConditioningInputs WithStream(string name, ConditioningStream stream)
    {
        var map = Streams is null ? new Dictionary<string, ConditioningStream>(StringComparer.Ordinal) : new Dictionary<string, ConditioningStream>(Streams, StringComparer.Ordinal);
        map[name] = stream;
        return this with { Streams = map };
    }

    /// <summary>The extra of type <typeparamref name="T"/> a plugin attached, or null.</summary>
    public T? Get<T>() where T : class =>
        Extensions is not null && Extensions.TryGetValue(typeof(T), out var value) ? (T)value : null;

    /// <summary>A copy with <paramref name="value"/> attached as the extra of type <typeparamref name="T"/>.</summary>
    public ConditioningInputs With<T>(T value) where T : class
    {
        var map = Extensions is null ? new Dictionary<Type, object>() : new Dictionary<Type, object>(Extensions);
        map[typeof(T)] = value;
        return this with { Extensions = map };
    }

    /// <summary>
    /// Disposes the extras that hold resources (those that are <see cref="IDisposable"/>, such as
    /// paint-with-words masks) and the image embedding; call it once the generation that used them is done.
    /// </summary>
    public void DisposeExtras()
    {
        ClipImage?.Dispose();
        foreach (var stream in Streams?.Values ?? []) stream.Dispose();
        foreach (var extra in Extensions?.Values.OfType<IDisposable>() ?? []) extra.Dispose();
    }

    /// <summary>
    /// Concatenates two batches (for example conditional and unconditional, for one batched call of
    /// guidance). A stream present on one side only is zero-filled and masked on the other side.
    /// </summary>
    public static ConditioningInputs Concat(ConditioningInputs a, long batchA, ConditioningInputs b, long batchB) => new(
        ConcatText(a.T5Text, batchA, b.T5Text, batchB),
        ConcatText(a.ClipText, batchA, b.ClipText, batchB),
        (a.ClipImage, b.ClipImage) switch
        {
            (null, null) => null,
            (Tensor ia, null) => cat([ia, zeros(batchB, ia.shape[1], dtype: ia.dtype, device: ia.device)], 0),
            (null, Tensor ib) => cat([zeros(batchA, ib.shape[1], dtype: ib.dtype, device: ib.device), ib], 0),
            (Tensor ia, Tensor ib) => cat([ia, ib], 0),
        },
        a.Extensions ?? b.Extensions,
        ConcatStreams(a.Streams, batchA, b.Streams, batchB));

    private static IReadOnlyDictionary<string, ConditioningStream>? ConcatStreams(
        IReadOnlyDictionary<string, ConditioningStream>? a, long batchA, IReadOnlyDictionary<string, ConditioningStream>? b, long batchB)
    {
        if ((a is null || a.Count == 0) && (b is null || b.Count == 0)) return null;
        var names = (a?.Keys ?? []).Union(b?.Keys ?? []);
        return names.ToDictionary(n => n, n => ConditioningStream.Concat(a?.GetValueOrDefault(n), batchA, b?.GetValueOrDefault(n), batchB)!, StringComparer.Ordinal);
    }

    private static TextEmbedding? ConcatText(TextEmbedding? a, long batchA, TextEmbedding? b, long batchB)
    {
        if (a is null && b is null) return null;
        var like = (a ?? b)!;
        a ??= TextEmbedding.Dropped(batchA, 1, like.Tokens.shape[2], like.Pooled?.shape[1], like.Tokens.dtype, like.Tokens.device);
        b ??= TextEmbedding.Dropped(batchB, 1, like.Tokens.shape[2], like.Pooled?.shape[1], like.Tokens.dtype, like.Tokens.device);
        return TextEmbedding.Concat(a, b);
    }

    /// <summary>
    /// Per-sample dropout of each stream, independently (classifier-free training): a sample keeps a
    /// stream where the matching boolean tensor of shape [B] is true.
    /// </summary>
    public ConditioningInputs KeepWhere(Tensor keepT5, Tensor keepClip, Tensor keepImage) => this with
    {
        T5Text = T5Text?.KeepWhere(keepT5),
        ClipText = ClipText?.KeepWhere(keepClip),
        ClipImage = ClipImage is null ? null : ClipImage * keepImage.to(ClipImage.dtype, ClipImage.device).view(-1, 1),
    };

    /// <summary>
    /// Per-sample dropout of each named stream on its own (classifier-free training of conditioners):
    /// <paramref name="keep"/> gives, for a stream's name, the boolean [B] tensor of the samples that keep it.
    /// </summary>
    public ConditioningInputs KeepStreamsWhere(Func<string, Tensor> keep) => Streams is null ? this : this with
    {
        Streams = Streams.ToDictionary(kv => kv.Key, kv => kv.Value.KeepWhere(keep(kv.Key)), StringComparer.Ordinal),
    };

    /// <summary>The samples at <paramref name="rows"/> (int64 indices) of every stream, in that order.</summary>
    public ConditioningInputs SelectRows(Tensor rows) => this with
    {
        T5Text = T5Text?.SelectRows(rows),
        ClipText = ClipText?.SelectRows(rows),
        ClipImage = ClipImage?.index_select(0, rows.to(ClipImage.device)),
        Streams = Streams?.ToDictionary(kv => kv.Key, kv => kv.Value.SelectRows(rows), StringComparer.Ordinal),
    };
}
