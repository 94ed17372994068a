using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace EDiffI.IO;

/// <summary>
/// Loads and saves a module's weights as safetensors (through TorchSharp.PyBridge), refusing a file
/// whose tensors do not match the module: one message lists every missing, extra and wrongly shaped
/// tensor.
/// </summary>
public static class SafeTensorsWeights
{
    /// <summary>Writes every tensor of <paramref name="module"/>'s state dict, cast to <paramref name="dtype"/> when given.</summary>
    public static void Save(nn.Module module, string path, ScalarType? dtype = null)
    {
        using var scope = NewDisposeScope();
        var state = module.state_dict().ToDictionary(kv => kv.Key,
            kv => (dtype is ScalarType d && kv.Value.is_floating_point() ? kv.Value.to(d) : kv.Value).detach().cpu().contiguous());
        WriteAtomically(path, stream => Safetensors.SaveStateDict(stream, state, leaveOpen: true));
    }

    /// <summary>Writes a dictionary of tensors as one safetensors file, atomically (temporary file, then rename).</summary>
    public static void Save(IReadOnlyDictionary<string, Tensor> tensors, string path)
    {
        using var scope = NewDisposeScope();
        var state = tensors.ToDictionary(kv => kv.Key, kv => kv.Value.detach().cpu().contiguous());
        WriteAtomically(path, stream => Safetensors.SaveStateDict(stream, state, leaveOpen: true));
    }

    /// <summary>
    /// Reads every tensor of a safetensors file onto the CPU, after <see cref="SafeTensorsHeader.Read"/>
    /// has checked its header (nothing is read from a file it refuses). 8-bit weights (<see cref="Int8Weights"/>) come
    /// back as float32 tensors under their own names, without their scales.
    /// </summary>
    /// <exception cref="FileNotFoundException">When there is no such file.</exception>
    /// <exception cref="InvalidDataException">When the file is truncated, not safetensors, its header breaks the format's rules, or its 8-bit scales do not fit their tensors.</exception>
    public static Dictionary<string, Tensor> Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"No weights file at '{path}'.", path);
        SafeTensorsHeader.Read(path);
        Dictionary<string, Tensor> tensors;
        try
        {
            tensors = Safetensors.LoadStateDict(path);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new InvalidDataException($"'{path}' is not a readable safetensors file ({e.Message}).", e);
        }
        try
        {
            return Int8Weights.Expand(tensors, path);
        }
        catch
        {
            foreach (var t in tensors.Values) t.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Copies the tensors of <paramref name="path"/> into <paramref name="module"/>, converting dtypes.
    /// Nothing is copied unless every name and shape matches.
    /// </summary>
    /// <exception cref="InvalidDataException">Listing every missing, extra and wrongly shaped tensor.</exception>
    public static void Load(nn.Module module, string path)
    {
        var tensors = Read(path);
        try
        {
            LoadInto(module, tensors, path);
        }
        finally
        {
            foreach (var t in tensors.Values) t.Dispose();
        }
    }

    /// <summary>Copies <paramref name="tensors"/> into <paramref name="module"/> after checking names and shapes.</summary>
    public static void LoadInto(nn.Module module, IReadOnlyDictionary<string, Tensor> tensors, string source) =>
        CopyInto(module.state_dict(), tensors, source, "this model");

    /// <summary>
    /// Copies <paramref name="tensors"/> into the <paramref name="expected"/> targets by name after checking that
    /// names and shapes match exactly; nothing is copied otherwise. <paramref name="what"/> names the targets in the message.
    /// </summary>
    /// <exception cref="InvalidDataException">Listing every missing, extra and wrongly shaped tensor.</exception>
    public static void CopyInto(IReadOnlyDictionary<string, Tensor> expected, IReadOnlyDictionary<string, Tensor> tensors, string source, string what)
    {
        var problems = Compare(expected, tensors);
        if (problems.Count > 0)
            throw new InvalidDataException($"'{source}' does not fit {what}: " + string.Join("; ", problems) + ".");
        using var noGrad = no_grad();
        foreach (var (name, target) in expected)
            target.copy_(tensors[name]);
    }

    /// <summary>Lists every difference in names and shapes between a model's state dict and a file's tensors.</summary>
    public static List<string> Compare(IReadOnlyDictionary<string, Tensor> expected, IReadOnlyDictionary<string, Tensor> found)
    {
        var problems = new List<string>();
        var missing = expected.Keys.Where(k => !found.ContainsKey(k)).Order(StringComparer.Ordinal).ToList();
        var extra = found.Keys.Where(k => !expected.ContainsKey(k)).Order(StringComparer.Ordinal).ToList();
        var shapes = expected.Keys.Where(found.ContainsKey)
            .Where(k => !expected[k].shape.SequenceEqual(found[k].shape))
            .Order(StringComparer.Ordinal)
            .Select(k => $"{k} is [{string.Join(", ", found[k].shape)}], expected [{string.Join(", ", expected[k].shape)}]")
            .ToList();
        if (missing.Count > 0) problems.Add($"{missing.Count} missing: {string.Join(", ", missing)}");
        if (extra.Count > 0) problems.Add($"{extra.Count} unexpected: {string.Join(", ", extra)}");
        if (shapes.Count > 0) problems.Add($"{shapes.Count} wrongly shaped: {string.Join(", ", shapes)}");
        return problems;
    }

    /// <summary>Writes through a temporary file beside <paramref name="path"/>, flushed to disk, then renamed over it.</summary>
    public static void WriteAtomically(string path, Action<Stream> write)
    {
        string full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        string temp = full + $".tmp-{Environment.ProcessId}";
        try
        {
            using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }
}
