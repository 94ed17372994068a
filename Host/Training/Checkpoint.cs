using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using EDiffI.Host.Runtime;
using EDiffI.IO;
using static TorchSharp.torch;

namespace EDiffI.Host.Training;

/// <summary>
/// A training checkpoint: <c>ckpt-XXXXXXXX/state-NNN.safetensors</c> (weights, EMA, optimizer moments,
/// RNG states, in shards of at most <see cref="MaxFileBytes"/> so each file can move between machines)
/// and <c>state.json</c> (step, settings, and the SHA-256 and size of every shard). Written into a
/// temporary folder and renamed, then <c>latest.txt</c> is replaced atomically, so a run killed at any
/// moment leaves the previous checkpoint intact.
/// </summary>
public static class Checkpoint
{
    /// <summary>Largest shard written (16 MiB), unless one tensor alone is larger.</summary>
    public const long MaxFileBytes = 16L << 20;
    private const string Meta = "state.json";
    private const string Latest = "latest.txt";
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>Writes a checkpoint of <paramref name="tensors"/> and <paramref name="meta"/> at <paramref name="step"/>.</summary>
    public static string Save(string root, long step, IReadOnlyDictionary<string, Tensor> tensors, JsonObject meta, int keep)
    {
        Directory.CreateDirectory(root);
        string name = $"ckpt-{step:D8}";
        string final = Path.Combine(root, name);
        string temp = Path.Combine(root, name + ".partial");
        if (Directory.Exists(temp)) Directory.Delete(temp, recursive: true);
        Directory.CreateDirectory(temp);
        var files = new JsonArray();
        foreach (var shard in Shards(tensors))
        {
            string file = $"state-{files.Count:D3}.safetensors";
            string path = Path.Combine(temp, file);
            SafeTensorsWeights.Save(shard, path);
            files.Add(new JsonObject { ["name"] = file, ["bytes"] = new FileInfo(path).Length, ["sha256"] = Sha256(path) });
        }
        meta["step"] = step;
        meta["files"] = files;
        SafeTensorsWeights.WriteAtomically(Path.Combine(temp, Meta),
            s => JsonSerializer.Serialize(s, meta, Indented));
        if (Directory.Exists(final)) Directory.Delete(final, recursive: true);
        Directory.Move(temp, final);
        SafeTensorsWeights.WriteAtomically(Path.Combine(root, Latest), s => { using var w = new StreamWriter(s, leaveOpen: true); w.Write(name); });
        foreach (var old in Directory.GetDirectories(root, "ckpt-*").Where(d => !d.EndsWith(".partial", StringComparison.Ordinal))
                     .Order(StringComparer.Ordinal).SkipLast(Math.Max(1, keep)))
            Directory.Delete(old, recursive: true);
        return final;
    }

    /// <summary>Splits tensors, in name order, into groups of at most <see cref="MaxFileBytes"/> bytes of data.</summary>
    private static IEnumerable<Dictionary<string, Tensor>> Shards(IReadOnlyDictionary<string, Tensor> tensors)
    {
        var shard = new Dictionary<string, Tensor>();
        long bytes = 0;
        foreach (var (name, t) in tensors.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            long size = t.NumberOfElements * t.ElementSize;
            if (shard.Count > 0 && bytes + size > MaxFileBytes - (1 << 16)) // leave room for the header
            {
                yield return shard;
                shard = new Dictionary<string, Tensor>();
                bytes = 0;
            }
            shard[name] = t;
            bytes += size;
        }
        if (shard.Count > 0) yield return shard;
    }

    /// <summary>The newest complete checkpoint under <paramref name="root"/>, or null when there is none.</summary>
    public static string? FindLatest(string root)
    {
        string latest = Path.Combine(root, Latest);
        if (!File.Exists(latest)) return null;
        string dir = Path.Combine(root, File.ReadAllText(latest).Trim());
        if (!Directory.Exists(dir))
            throw new UserException($"{latest} names '{dir}', which does not exist; pass --resume <checkpoint folder> to pick one.");
        return dir;
    }

    /// <summary>Reads and verifies a checkpoint; refuses a truncated, corrupt or incomplete one with a clear message.</summary>
    public static (Dictionary<string, Tensor> Tensors, JsonObject Meta) Load(string dir)
    {
        string metaPath = Path.Combine(dir, Meta);
        if (!File.Exists(metaPath))
            throw new UserException($"Checkpoint '{dir}' is incomplete: it has no {Meta}. Nothing was changed.");
        JsonObject meta;
        JsonArray files;
        try
        {
            meta = JsonNode.Parse(File.ReadAllText(metaPath)) as JsonObject ?? throw new JsonException("not an object");
            files = meta["files"] as JsonArray ?? throw new JsonException("it lists no tensor files");
        }
        catch (JsonException e)
        {
            throw new UserException($"Checkpoint '{dir}' is corrupt: {Meta} is not valid ({e.Message}). Nothing was changed.", e);
        }
        var checkedFiles = new List<string>();
        foreach (var entry in files)
        {
            string name = entry?["name"]?.GetValue<string>() ?? throw new UserException($"Checkpoint '{dir}' is corrupt: a file entry of {Meta} has no name. Nothing was changed.");
            string path = Path.Combine(dir, name);
            if (!File.Exists(path))
                throw new UserException($"Checkpoint '{dir}' is incomplete: {name} is missing. Nothing was changed.");
            long expectedBytes = entry["bytes"]?.GetValue<long>() ?? -1;
            long actualBytes = new FileInfo(path).Length;
            if (actualBytes != expectedBytes)
                throw new UserException($"Checkpoint '{dir}' is truncated: {name} has {actualBytes} bytes, {expectedBytes} were written. Nothing was changed.");
            if (Sha256(path) != entry["sha256"]?.GetValue<string>())
                throw new UserException($"Checkpoint '{dir}' is corrupt: the checksum of {name} does not match. Nothing was changed.");
            checkedFiles.Add(path);
        }
        try
        {
            foreach (var path in checkedFiles) SafeTensorsHeader.Read(path); // every file checked before any is read
        }
        catch (InvalidDataException e)
        {
            throw new UserException($"Checkpoint '{dir}' is corrupt: {e.Message}", e);
        }
        var tensors = new Dictionary<string, Tensor>();
        foreach (var path in checkedFiles)
            foreach (var (name, t) in SafeTensorsWeights.Read(path)) tensors[name] = t;
        return (tensors, meta);
    }

    private static string Sha256(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexString(SHA256.HashData(stream));
    }
}
