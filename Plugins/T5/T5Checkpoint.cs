using System.Buffers.Binary;
using System.Text.Json;
using System.Text.Json.Nodes;
using EDiffI.IO;
using TorchSharp;
using static TorchSharp.torch;

namespace EDiffI.Plugins.T5;

/// <summary>Where one tensor of a safetensors checkpoint lies.</summary>
/// <param name="File">The safetensors file.</param>
/// <param name="DType">Stored dtype.</param>
/// <param name="Shape">Shape.</param>
/// <param name="Offset">Byte offset of the data in the file.</param>
/// <param name="Length">Byte length of the data.</param>
public sealed record StoredTensor(string File, ScalarType DType, long[] Shape, long Offset, long Length);

/// <summary>
/// A Hugging Face safetensors checkpoint, single-file (<c>model.safetensors</c>) or sharded
/// (<c>model.safetensors.index.json</c>): only the headers are read up front; each tensor is read
/// straight from its file into a buffer of its stored dtype and copied into the module, one at a time,
/// so loading needs little more memory than the module itself.
/// </summary>
public sealed class SafeTensorsCheckpoint
{
    private SafeTensorsCheckpoint(string source, IReadOnlyDictionary<string, StoredTensor> tensors) => (Source, Tensors) = (source, tensors);

    /// <summary>What was opened (for messages).</summary>
    public string Source { get; }

    /// <summary>Every tensor by name.</summary>
    public IReadOnlyDictionary<string, StoredTensor> Tensors { get; }

    /// <summary>Opens the checkpoint of <paramref name="folder"/> (or a single .safetensors file).</summary>
    /// <exception cref="InvalidDataException">When there is no safetensors checkpoint or a header is broken.</exception>
    public static SafeTensorsCheckpoint Open(string folder)
    {
        if (File.Exists(folder) && folder.EndsWith(".safetensors", StringComparison.Ordinal))
            return new SafeTensorsCheckpoint(folder, ReadHeader(folder));
        string index = Path.Combine(folder, "model.safetensors.index.json");
        string single = Path.Combine(folder, "model.safetensors");
        if (File.Exists(index))
        {
            JsonObject? map;
            try { map = JsonNode.Parse(File.ReadAllText(index))?["weight_map"] as JsonObject; }
            catch (JsonException e) { throw new InvalidDataException($"'{index}' is not valid JSON ({e.Message}).", e); }
            if (map is null) throw new InvalidDataException($"'{index}' has no weight_map.");
            var tensors = new Dictionary<string, StoredTensor>(StringComparer.Ordinal);
            var problems = new List<string>();
            foreach (var shard in map.Select(kv => kv.Value!.GetValue<string>()).Distinct(StringComparer.Ordinal))
            {
                string path = Path.Combine(folder, shard);
                if (!File.Exists(path)) { problems.Add($"shard '{shard}' is missing"); continue; }
                foreach (var (name, t) in ReadHeader(path)) tensors[name] = t;
            }
            foreach (var (name, shard) in map)
                if (tensors.TryGetValue(name, out var t) && Path.GetFileName(t.File) != shard!.GetValue<string>())
                    problems.Add($"{name} is listed in '{shard}' but stored in '{Path.GetFileName(t.File)}'");
            if (problems.Count > 0) throw new InvalidDataException($"'{index}' does not match its shards: {string.Join("; ", problems)}.");
            return new SafeTensorsCheckpoint(index, tensors);
        }
        if (File.Exists(single)) return new SafeTensorsCheckpoint(single, ReadHeader(single));
        string hint = File.Exists(Path.Combine(folder, "pytorch_model.bin"))
            ? " It has pytorch_model.bin; convert it to safetensors first (transformers: model.save_pretrained(dir, safe_serialization=True))."
            : "";
        throw new InvalidDataException($"'{folder}' holds no model.safetensors or model.safetensors.index.json.{hint}");
    }

    /// <summary>Where each tensor of one safetensors file lies, after <see cref="SafeTensorsHeader.Read"/> has checked its header.</summary>
    /// <exception cref="InvalidDataException">Naming the file and what is wrong with its header.</exception>
    public static Dictionary<string, StoredTensor> ReadHeader(string path)
    {
        var header = SafeTensorsHeader.Read(path);
        return header.Tensors.ToDictionary(t => t.Name,
            t => new StoredTensor(path, t.DType, t.Shape, header.DataStart + t.Offset, t.Length), StringComparer.Ordinal);
    }

    /// <summary>
    /// Copies every parameter of <paramref name="module"/> from the checkpoint, cast to the parameter's
    /// dtype and device. Tensors the module does not have (a decoder's, for an encoder) are ignored;
    /// <paramref name="aliases"/> names alternatives for a missing tensor (a tied embedding). 8-bit weights
    /// (<see cref="Int8Weights"/>) are expanded with their scales.
    /// Nothing is copied unless every tensor is present with the right shape.
    /// </summary>
    /// <exception cref="InvalidDataException">One message listing every missing and wrongly shaped tensor.</exception>
    public void LoadInto(nn.Module module, IReadOnlyDictionary<string, string>? aliases = null)
    {
        var expected = module.state_dict();
        var sources = new Dictionary<string, StoredTensor>(StringComparer.Ordinal);
        var scales = new Dictionary<string, StoredTensor>(StringComparer.Ordinal); // 8-bit weights' scales (Int8Weights)
        var missing = new List<string>();
        var shapes = new List<string>();
        foreach (var (name, target) in expected.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            string storedName = name;
            if (!Tensors.TryGetValue(name, out var stored) && !(aliases?.TryGetValue(name, out var alias) == true && Tensors.TryGetValue(storedName = alias!, out stored)))
            {
                missing.Add(name);
                continue;
            }
            if (Tensors.TryGetValue(storedName + Int8Weights.ScaleSuffix, out var scale))
            {
                if (Int8Weights.PairProblem(name, stored.DType, stored.Shape, scale.Shape) is { } problem) shapes.Add(problem);
                scales[name] = scale;
            }
            if (!stored.Shape.SequenceEqual(target.shape))
                shapes.Add($"{name} is [{string.Join(", ", stored.Shape)}], expected [{string.Join(", ", target.shape)}]");
            sources[name] = stored;
        }
        if (missing.Count > 0 || shapes.Count > 0)
        {
            var parts = new List<string>();
            if (missing.Count > 0) parts.Add($"{missing.Count} missing: {string.Join(", ", missing)}");
            if (shapes.Count > 0) parts.Add($"{shapes.Count} wrongly shaped: {string.Join(", ", shapes)}");
            throw new InvalidDataException($"'{Source}' does not fit this T5 model: {string.Join("; ", parts)}.");
        }
        using var noGrad = no_grad();
        var handles = new Dictionary<string, Microsoft.Win32.SafeHandles.SafeFileHandle>(StringComparer.Ordinal);
        try
        {
            // Each stored tensor read into a CPU buffer of its own dtype, every file opened once.
            Tensor Read(StoredTensor stored)
            {
                if (!handles.TryGetValue(stored.File, out var handle))
                    handles[stored.File] = handle = File.OpenHandle(stored.File, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.SequentialScan);
                var buffer = empty(stored.Shape, dtype: stored.DType);
                ReadInto(handle, stored, buffer);
                return buffer;
            }
            foreach (var (name, target) in expected)
            {
                var stored = sources[name];
                using var buffer = Read(stored);
                if (scales.TryGetValue(name, out var scaleStored))
                {
                    using var scaleBuffer = Read(scaleStored);
                    using var weights = Int8Weights.Dequantize(buffer, scaleBuffer, name, stored.File);
                    target.copy_(weights);
                }
                else target.copy_(buffer);
            }
        }
        finally
        {
            foreach (var h in handles.Values) h.Dispose();
        }
    }

    // Reads the tensor's bytes straight into the CPU buffer's memory (no managed copy).
    private static void ReadInto(Microsoft.Win32.SafeHandles.SafeFileHandle handle, StoredTensor stored, Tensor buffer)
    {
        var target = buffer.bytes;
        int done = 0;
        while (done < target.Length)
        {
            int read = RandomAccess.Read(handle, target[done..], stored.Offset + done);
            if (read <= 0) throw new InvalidDataException($"'{stored.File}' ended inside a tensor (truncated file).");
            done += read;
        }
    }
}
