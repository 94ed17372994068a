using EDiffI.IO;
using static TorchSharp.torch;

namespace EDiffI.Host.Pipeline;

/// <summary>What <see cref="ModelQuantizer.Quantize"/> did to one weights file.</summary>
/// <param name="File">The file, relative to the model folder.</param>
/// <param name="BytesBefore">Its size before.</param>
/// <param name="BytesAfter">Its size after.</param>
/// <param name="Quantized">Tensors stored in 8 bits.</param>
/// <param name="Kept">Tensors kept as they were (biases, norms, small tensors).</param>
/// <param name="WorstRelativeError">The largest ‖w − ŵ‖ / ‖w‖ (root-mean-square error over root-mean-square weight) over the quantized tensors (0 when none).</param>
public sealed record QuantizedFile(string File, long BytesBefore, long BytesAfter, int Quantized, int Kept, double WorstRelativeError);

/// <summary>
/// Copies a model folder with every safetensors file's weights in 8 bits (<see cref="Int8Weights"/>): the U-Nets, the
/// super-resolution stages, the encoders, each file read back and checked against the original. Everything else is
/// copied as it is. The copy is written beside the target and moved into place when whole, so a failure leaves no
/// half-written model; the source is never changed.
/// </summary>
public static class ModelQuantizer
{
    /// <summary>Quantizes <paramref name="source"/> into the new folder <paramref name="target"/>.</summary>
    /// <param name="source">A model folder (or any folder holding safetensors files).</param>
    /// <param name="target">Where the copy goes: a folder that does not exist yet, or an empty one.</param>
    /// <param name="progress">Called after each weights file.</param>
    /// <exception cref="ArgumentException">For a missing or weightless source, a target that holds files, or a target inside the source.</exception>
    /// <exception cref="InvalidDataException">For a weights file that is not valid safetensors (named; nothing is left at the target).</exception>
    public static IReadOnlyList<QuantizedFile> Quantize(string source, string target, Action<QuantizedFile>? progress = null)
    {
        string from = Path.TrimEndingDirectorySeparator(Path.GetFullPath(source));
        string to = Path.TrimEndingDirectorySeparator(Path.GetFullPath(target));
        if (!Directory.Exists(from)) throw new ArgumentException($"There is no model folder '{source}'.");
        string relative = Path.GetRelativePath(from, to);
        if (relative == ".")
            throw new ArgumentException($"'{target}' is the model folder itself; the copy goes to a new folder and '{source}' stays as it is.");
        bool outside = relative == ".." || relative.StartsWith(".." + Path.DirectorySeparatorChar, StringComparison.Ordinal) || Path.IsPathRooted(relative);
        if (!outside)
            throw new ArgumentException($"'{target}' lies inside '{source}'; name a folder outside it.");
        if (Directory.Exists(to) && Directory.EnumerateFileSystemEntries(to).Any())
            throw new ArgumentException($"'{target}' already holds files; name a new or empty folder (nothing was written).");
        var files = Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToList();
        if (!files.Any(IsWeights)) throw new ArgumentException($"'{source}' holds no .safetensors weights to quantize.");

        string staging = to + $".partial-{Environment.ProcessId}";
        if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
        var results = new List<QuantizedFile>();
        try
        {
            foreach (string file in files)
            {
                string name = Path.GetRelativePath(from, file);
                string destination = Path.Combine(staging, name);
                Directory.CreateDirectory(Path.GetDirectoryName(destination)!);
                if (!IsWeights(file))
                {
                    File.Copy(file, destination);
                    continue;
                }
                var result = QuantizeFile(file, destination, name);
                results.Add(result);
                progress?.Invoke(result);
            }
            if (Directory.Exists(to)) Directory.Delete(to); // empty, checked above
            Directory.CreateDirectory(Path.GetDirectoryName(to)!);
            Directory.Move(staging, to);
        }
        finally
        {
            if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
        }
        return results;
    }

    private static bool IsWeights(string file) => file.EndsWith(".safetensors", StringComparison.Ordinal);

    private static QuantizedFile QuantizeFile(string file, string destination, string name)
    {
        using var scope = NewDisposeScope();
        var original = SafeTensorsWeights.Read(file);
        var stored = Int8Weights.Quantize(original);
        SafeTensorsWeights.Save(stored, destination);
        // Read the written file back as every loader will, and compare it with the original.
        var back = SafeTensorsWeights.Read(destination);
        if (back.Count != original.Count || original.Keys.Any(k => !back.ContainsKey(k)))
            throw new InvalidDataException($"'{name}' did not read back with the same tensors after quantizing.");
        double worst = 0;
        int quantized = 0;
        foreach (var (key, w) in original)
        {
            if (!Int8Weights.Quantizes(w)) continue;
            quantized++;
            var reference = w.to(ScalarType.Float32);
            double norm = reference.norm().item<float>();
            if (norm == 0) continue;
            worst = Math.Max(worst, (back[key] - reference).norm().item<float>() / norm);
        }
        return new QuantizedFile(name, new FileInfo(file).Length, new FileInfo(destination).Length, quantized, original.Count - quantized, worst);
    }
}
