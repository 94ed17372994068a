using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using EDiffI.Host.Runtime;
using EDiffI.IO;
using static TorchSharp.torch;

namespace EDiffI.Host.Training;

/// <summary>
/// A training checkpoint: <c>ckpt-XXXXXXXX/state.safetensors</c> (weights, EMA, optimizer moments,
/// RNG states) and <c>state.json</c> (step, settings, and the SHA-256 and size of the tensors file).
/// Written into a temporary folder and renamed, then <c>latest.txt</c> is replaced atomically, so a
/// run killed at any moment leaves the previous checkpoint intact.
/// </summary>
public static class Checkpoint
{
    private const string Tensors = "state.safetensors";
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
        string tensorsPath = Path.Combine(temp, Tensors);
        SafeTensorsWeights.Save(tensors, tensorsPath);
        meta["step"] = step;
        meta["sha256"] = Sha256(tensorsPath);
        meta["bytes"] = new FileInfo(tensorsPath).Length;
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

    /// <summary>Reads and verifies a checkpoint; refuses a truncated or corrupt one with a clear message.</summary>
    public static (Dictionary<string, Tensor> Tensors, JsonObject Meta) Load(string dir)
    {
        string metaPath = Path.Combine(dir, Meta), tensorsPath = Path.Combine(dir, Tensors);
        if (!File.Exists(metaPath) || !File.Exists(tensorsPath))
            throw new UserException($"Checkpoint '{dir}' is incomplete: it needs both {Meta} and {Tensors}. Nothing was changed.");
        JsonObject meta;
        try
        {
            meta = JsonNode.Parse(File.ReadAllText(metaPath)) as JsonObject ?? throw new JsonException("not an object");
        }
        catch (JsonException e)
        {
            throw new UserException($"Checkpoint '{dir}' is corrupt: {Meta} is not valid JSON ({e.Message}). Nothing was changed.", e);
        }
        long expectedBytes = meta["bytes"]?.GetValue<long>() ?? -1;
        long actualBytes = new FileInfo(tensorsPath).Length;
        if (actualBytes != expectedBytes)
            throw new UserException($"Checkpoint '{dir}' is truncated: {Tensors} has {actualBytes} bytes, {expectedBytes} were written. Nothing was changed.");
        if (Sha256(tensorsPath) != meta["sha256"]?.GetValue<string>())
            throw new UserException($"Checkpoint '{dir}' is corrupt: the checksum of {Tensors} does not match. Nothing was changed.");
        return (SafeTensorsWeights.Read(tensorsPath), meta);
    }

    private static string Sha256(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexString(SHA256.HashData(stream));
    }
}
