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

/// <summary>
/// Training examples read from an embedding cache (<c>cache:&lt;folder&gt;</c>): batches drawn uniformly with
/// replacement by the generator, each with its cached conditioning. The whole cache is held in memory.
/// </summary>
public sealed class EmbeddingCacheSource : IDatasetSource, IDisposable
{
    private readonly Dictionary<string, Tensor> _data = [];

    /// <summary>The cache's index.</summary>
    public EmbeddingCacheIndex Index { get; }

    /// <summary>Opens the cache in <paramref name="folder"/>; refuses a folder that is not one, with a clear message.</summary>
    public EmbeddingCacheSource(string folder)
    {
        string path = Path.Combine(folder, EmbeddingCache.IndexFile);
        if (!File.Exists(path)) throw new UserException($"'{folder}' is not an embedding cache (no {EmbeddingCache.IndexFile}); make one with `encode`.");
        try
        {
            Index = JsonSerializer.Deserialize<EmbeddingCacheIndex>(File.ReadAllText(path), EmbeddingCacheIndex.Json) ?? throw new JsonException("empty");
        }
        catch (JsonException e)
        {
            throw new UserException($"'{path}' is not a valid cache index: {e.Message}", e);
        }
        foreach (var shard in Index.Shards)
        {
            string file = Path.Combine(folder, shard);
            if (!File.Exists(file)) throw new UserException($"The embedding cache '{folder}' is incomplete: {shard} is missing.");
            try { SafeTensorsHeader.Read(file); } // every shard checked before any is read
            catch (InvalidDataException e) { throw new UserException($"The embedding cache '{folder}' is damaged: {e.Message}", e); }
        }
        var parts = new Dictionary<string, List<Tensor>>();
        foreach (var shard in Index.Shards)
        {
            string file = Path.Combine(folder, shard);
            foreach (var (key, t) in SafeTensorsWeights.Read(file))
            {
                if (!parts.TryGetValue(key, out var list)) parts[key] = list = [];
                list.Add(t);
            }
        }
        foreach (var (key, list) in parts)
        {
            _data[key] = cat(list, 0).DetachFromDisposeScope();
            foreach (var t in list) t.Dispose();
        }
        if (!_data.TryGetValue("images", out var images) || images.shape[0] != Index.Count)
            throw new UserException($"The embedding cache '{folder}' does not hold the {Index.Count} images its index names.");
    }

    /// <inheritdoc />
    public int Resolution => Index.Resolution;

    /// <inheritdoc />
    public long? Count => Index.Count;

    /// <inheritdoc />
    public TrainingBatch NextBatch(int batchSize, Generator generator)
    {
        using var scope = NewDisposeScope();
        var rows = randint(0, Index.Count, [batchSize], dtype: ScalarType.Int64, generator: generator);
        var picked = rows.data<long>().ToArray();
        var images = (_data["images"].index_select(0, rows).to(ScalarType.Float32) / 127.5 - 1).MoveToOuterDisposeScope();
        TextEmbedding? Stream(string prefix) => _data.TryGetValue(prefix + "/tokens", out var tokens)
            ? new TextEmbedding(tokens.index_select(0, rows).to(ScalarType.Float32).MoveToOuterDisposeScope(),
                _data[prefix + "/mask"].index_select(0, rows).MoveToOuterDisposeScope(),
                _data.TryGetValue(prefix + "/pooled", out var pooled) ? pooled.index_select(0, rows).to(ScalarType.Float32).MoveToOuterDisposeScope() : null)
            : null;
        var conditioning = new ConditioningInputs(Stream("t5"), Stream("clip"),
            _data.TryGetValue("image/embedding", out var image) ? image.index_select(0, rows).to(ScalarType.Float32).MoveToOuterDisposeScope() : null);
        return new TrainingBatch(images, picked.Select(i => Index.Captions[(int)i]).ToList(), conditioning);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var t in _data.Values) t.Dispose();
    }
}
