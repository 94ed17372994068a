using System.Buffers.Binary;
using System.Text.Json;
using System.Text.Json.Nodes;
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

    /// <summary>Reads the JSON header of one safetensors file.</summary>
    public static Dictionary<string, StoredTensor> ReadHeader(string path)
    {
        using var stream = File.OpenRead(path);
        Span<byte> prefix = stackalloc byte[8];
        if (stream.Read(prefix) != 8) throw new InvalidDataException($"'{path}' is too short to be a safetensors file.");
        long headerLength = (long)BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (headerLength <= 0 || headerLength > 100_000_000 || 8 + headerLength > stream.Length)
            throw new InvalidDataException($"'{path}' is not a safetensors file (header length {headerLength}).");
        var header = new byte[headerLength];
        stream.ReadExactly(header);
        JsonObject json;
        try { json = JsonNode.Parse(header) as JsonObject ?? throw new InvalidDataException("header is not an object"); }
        catch (Exception e) when (e is JsonException or InvalidDataException)
        {
            throw new InvalidDataException($"'{path}' has a broken safetensors header ({e.Message}).", e);
        }
        long dataStart = 8 + headerLength, fileLength = stream.Length;
        var tensors = new Dictionary<string, StoredTensor>(StringComparer.Ordinal);
        foreach (var (name, node) in json)
        {
            if (name == "__metadata__" || node is not JsonObject entry) continue;
            string dtypeName = entry["dtype"]?.GetValue<string>() ?? "";
            var dtype = DTypeOf(dtypeName) ?? throw new InvalidDataException($"'{path}': tensor {name} has unsupported dtype '{dtypeName}'.");
            var shape = entry["shape"]!.AsArray().Select(x => x!.GetValue<long>()).ToArray();
            var offsets = entry["data_offsets"]!.AsArray().Select(x => x!.GetValue<long>()).ToArray();
            long expected = shape.Aggregate(1L, (a, b) => a * b) * ElementSize(dtype);
            if (offsets.Length != 2 || offsets[1] - offsets[0] != expected || dataStart + offsets[1] > fileLength)
                throw new InvalidDataException($"'{path}': tensor {name} does not fit the file (offsets [{string.Join(", ", offsets)}], {expected} bytes needed; the file may be truncated).");
            tensors[name] = new StoredTensor(path, dtype, shape, dataStart + offsets[0], expected);
        }
        return tensors;
    }

    /// <summary>
    /// Copies every parameter of <paramref name="module"/> from the checkpoint, cast to the parameter's
    /// dtype and device. Tensors the module does not have (a decoder's, for an encoder) are ignored;
    /// <paramref name="aliases"/> names alternatives for a missing tensor (a tied embedding).
    /// Nothing is copied unless every tensor is present with the right shape.
    /// </summary>
    /// <exception cref="InvalidDataException">One message listing every missing and wrongly shaped tensor.</exception>
    public void LoadInto(nn.Module module, IReadOnlyDictionary<string, string>? aliases = null)
    {
        var expected = module.state_dict();
        var sources = new Dictionary<string, StoredTensor>(StringComparer.Ordinal);
        var missing = new List<string>();
        var shapes = new List<string>();
        foreach (var (name, target) in expected.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            if (!Tensors.TryGetValue(name, out var stored) && !(aliases?.TryGetValue(name, out var alias) == true && Tensors.TryGetValue(alias, out stored)))
            {
                missing.Add(name);
                continue;
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
            foreach (var (name, target) in expected)
            {
                var stored = sources[name];
                if (!handles.TryGetValue(stored.File, out var handle))
                    handles[stored.File] = handle = File.OpenHandle(stored.File, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.SequentialScan);
                using var buffer = empty(stored.Shape, dtype: stored.DType);
                ReadInto(handle, stored, buffer);
                target.copy_(buffer);
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

    /// <summary>The dtype a safetensors dtype name stands for, or null when unsupported.</summary>
    public static ScalarType? DTypeOf(string name) => name switch
    {
        "F32" => ScalarType.Float32,
        "F16" => ScalarType.Float16,
        "BF16" => ScalarType.BFloat16,
        "F64" => ScalarType.Float64,
        "I64" => ScalarType.Int64,
        "I32" => ScalarType.Int32,
        "I16" => ScalarType.Int16,
        "I8" => ScalarType.Int8,
        "U8" => ScalarType.Byte,
        "BOOL" => ScalarType.Bool,
        _ => null,
    };

    /// <summary>The safetensors name of a dtype.</summary>
    public static string NameOf(ScalarType dtype) => dtype switch
    {
        ScalarType.Float32 => "F32",
        ScalarType.Float16 => "F16",
        ScalarType.BFloat16 => "BF16",
        ScalarType.Float64 => "F64",
        ScalarType.Int64 => "I64",
        ScalarType.Int32 => "I32",
        _ => throw new ArgumentException($"dtype {dtype} is not written by this tool"),
    };

    /// <summary>Bytes per element.</summary>
    public static int ElementSize(ScalarType dtype) => dtype switch
    {
        ScalarType.Float64 or ScalarType.Int64 => 8,
        ScalarType.Float32 or ScalarType.Int32 => 4,
        ScalarType.Float16 or ScalarType.BFloat16 or ScalarType.Int16 => 2,
        _ => 1,
    };
}
