using System.Text.Json;
using EDiffI.Conditioning;
using EDiffI.Data;
using EDiffI.Host.Runtime;
using EDiffI.IO;
using static TorchSharp.torch;

namespace EDiffI.Host.Data;

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
