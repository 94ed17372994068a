using System.Text.Json;
using EDiffI.Conditioning;
using EDiffI.Data;
using EDiffI.Encoders;
using EDiffI.Host.Runtime;
using EDiffI.IO;
using static TorchSharp.torch;

namespace EDiffI.Host.Data;

/// <summary>What an embedding cache folder holds (<c>index.json</c>).</summary>
public sealed record EmbeddingCacheIndex
{
    /// <summary>Format marker.</summary>
    public string Format { get; init; } = "ediffi-embeddings/1";
    /// <summary>Examples in all shards.</summary>
    public long Count { get; init; }
    /// <summary>Image side.</summary>
    public int Resolution { get; init; }
    /// <summary>The shard files, in order.</summary>
    public List<string> Shards { get; init; } = [];
    /// <summary>The training source the examples came from.</summary>
    public string Source { get; init; } = "";
    /// <summary>Encoder of the T5 stream (null: none cached).</summary>
    public TextEncoderSpec? T5 { get; init; }
    /// <summary>Encoder of the CLIP text stream (null: none cached).</summary>
    public TextEncoderSpec? ClipText { get; init; }
    /// <summary>Encoder of the CLIP image stream (null: none cached).</summary>
    public ImageEncoderSpec? ClipImage { get; init; }
    /// <summary>One caption per example, in shard order.</summary>
    public List<string> Captions { get; init; } = [];

    internal static readonly JsonSerializerOptions Json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase };
}

/// <summary>
/// The embedding cache of eDiff-I's training: images with their three embeddings (T5 tokens, CLIP text
/// tokens and pooled vector, CLIP image embedding) computed once by <c>encode</c> and stored in
/// safetensors shards, so training reads them instead of running the encoders.
/// </summary>
public static class EmbeddingCache
{
    /// <summary>Name of the index file.</summary>
    public const string IndexFile = "index.json";

    /// <summary>
    /// Encodes <paramref name="count"/> examples of <paramref name="source"/> (drawn with <paramref name="seed"/>)
    /// into <paramref name="folder"/>, <paramref name="perShard"/> examples per shard (fp16 embeddings, uint8 images).
    /// </summary>
    public static EmbeddingCacheIndex Write(string folder, string sourceName, IDatasetSource source, long count, int perShard, long seed,
        ITextEncoder? t5, TextEncoderSpec? t5Spec, ITextEncoder? clip, TextEncoderSpec? clipSpec, IImageEncoder? image, ImageEncoderSpec? imageSpec,
        Device device, Action<long>? progress = null)
    {
        if (t5 is null && clip is null && image is null) throw new UserException("Name at least one encoder to cache (--t5, --clip).");
        Directory.CreateDirectory(folder);
        using var generator = new Generator((ulong)seed);
        var shards = new List<string>();
        var captions = new List<string>();
        for (long done = 0; done < count;)
        {
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            int n = (int)Math.Min(perShard, count - done);
            var tensors = new Dictionary<string, Tensor>();
            var images = new List<Tensor>();
            var parts = new Dictionary<string, List<Tensor>>();
            void Add(string key, Tensor t) { if (!parts.TryGetValue(key, out var list)) parts[key] = list = []; list.Add(t.cpu()); }
            for (int at = 0; at < n; at += 64)
            {
                using var batch = source.NextBatch(Math.Min(64, n - at), generator);
                captions.AddRange(batch.Captions);
                Add("images", ((batch.Images + 1) * 127.5).round().clamp(0, 255).to(ScalarType.Byte));
                if (t5 is not null)
                {
                    var e = t5.Encode(batch.Captions, device).PadTo(t5.MaxTokens);
                    Add("t5/tokens", e.Tokens.to(ScalarType.Float16));
                    Add("t5/mask", e.Mask);
                }
                if (clip is not null)
                {
                    var e = clip.Encode(batch.Captions, device).PadTo(clip.MaxTokens);
                    Add("clip/tokens", e.Tokens.to(ScalarType.Float16));
                    Add("clip/mask", e.Mask);
                    if (e.Pooled is not null) Add("clip/pooled", e.Pooled.to(ScalarType.Float16));
                }
                if (image is not null) Add("image/embedding", image.Encode(batch.Images.to(device)).to(ScalarType.Float16));
            }
            foreach (var (key, list) in parts) tensors[key] = cat(list, 0);
            string name = $"shard-{shards.Count:D5}.safetensors";
            SafeTensorsWeights.Save(tensors, Path.Combine(folder, name));
            shards.Add(name);
            done += n;
            progress?.Invoke(done);
        }
        var index = new EmbeddingCacheIndex
        {
            Count = count, Resolution = source.Resolution, Shards = shards, Source = sourceName,
            T5 = t5 is null ? null : t5Spec, ClipText = clip is null ? null : clipSpec, ClipImage = image is null ? null : imageSpec,
            Captions = captions,
        };
        SafeTensorsWeights.WriteAtomically(Path.Combine(folder, IndexFile), s => JsonSerializer.Serialize(s, index, EmbeddingCacheIndex.Json));
        return index;
    }
}
