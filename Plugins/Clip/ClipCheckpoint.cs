using System.Text.Json;
using System.Text.Json.Nodes;
using EDiffI.IO;
using static TorchSharp.torch;

namespace EDiffI.Plugins.Clip;

/// <summary>
/// Reads and writes CLIP model folders in Hugging Face's layout: <c>config.json</c>, the weights as
/// <c>model.safetensors</c> (or shards listed by <c>model.safetensors.index.json</c>),
/// <c>vocab.json</c> + <c>merges.txt</c> and <c>preprocessor_config.json</c>.
/// </summary>
public static class ClipCheckpoint
{
    /// <summary>The configuration file's name.</summary>
    public const string ConfigFile = "config.json";
    /// <summary>The single weights file's name.</summary>
    public const string WeightsFile = "model.safetensors";
    /// <summary>The index of sharded weights.</summary>
    public const string IndexFile = "model.safetensors.index.json";

    // Prefixes of each tower's tensors in a CLIPModel checkpoint.
    private static readonly string[] TextPrefixes = ["text_model.", "text_projection."];
    private static readonly string[] VisionPrefixes = ["vision_model.", "visual_projection."];

    /// <summary>
    /// Builds the towers a folder's <c>config.json</c> describes and loads their weights by tensor
    /// name, casting any stored dtype to the module's (float32). Tensors of towers not asked for are
    /// not read into the model. Older checkpoints' <c>position_ids</c> buffers are ignored.
    /// </summary>
    /// <exception cref="FileNotFoundException">When the folder, its config or its weights are missing.</exception>
    /// <exception cref="InvalidDataException">One message listing every missing, unexpected and wrongly shaped tensor.</exception>
    public static ClipModel Load(string folder, ClipTowers towers)
    {
        if (!Directory.Exists(folder))
            throw new DirectoryNotFoundException($"No CLIP model folder at '{folder}'.");
        var config = ClipConfig.Load(Path.Combine(folder, ConfigFile));
        var model = new ClipModel(config, towers);
        try
        {
            LoadWeights(model, folder);
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>Copies a folder's weights into <paramref name="model"/> after checking every name and shape.</summary>
    public static void LoadWeights(ClipModel model, string folder)
    {
        var expected = model.state_dict();
        var prefixes = new List<string>();
        if (model.Towers.HasFlag(ClipTowers.Text)) prefixes.AddRange(TextPrefixes);
        if (model.Towers.HasFlag(ClipTowers.Vision)) prefixes.AddRange(VisionPrefixes);
        bool Wanted(string name) =>
            (expected.ContainsKey(name) || prefixes.Any(p => name.StartsWith(p, StringComparison.Ordinal)))
            && !name.EndsWith(".position_ids", StringComparison.Ordinal);

        var found = ReadTensors(folder, Wanted);
        try
        {
            var problems = SafeTensorsWeights.Compare(expected, found);
            if (problems.Count > 0)
                throw new InvalidDataException(
                    $"The CLIP checkpoint in '{folder}' does not fit its config.json: {string.Join("; ", problems)}.");
            using var noGrad = no_grad();
            foreach (var (name, target) in expected) target.copy_(found[name]);
        }
        finally
        {
            foreach (var t in found.Values) t.Dispose();
        }
    }

    /// <summary>The tensors of a folder's weights that <paramref name="wanted"/> selects (one file, or the shards that hold them).</summary>
    private static Dictionary<string, Tensor> ReadTensors(string folder, Func<string, bool> wanted)
    {
        string single = Path.Combine(folder, WeightsFile), index = Path.Combine(folder, IndexFile);
        IEnumerable<string> files;
        if (File.Exists(single)) files = [single];
        else if (File.Exists(index)) files = ShardsOf(index, wanted).Select(f => Path.Combine(folder, f));
        else if (File.Exists(Path.Combine(folder, "pytorch_model.bin")))
            throw new FileNotFoundException($"'{folder}' has only pytorch_model.bin; the CLIP plugin reads safetensors (save the model with safe_serialization=True).");
        else throw new FileNotFoundException($"No {WeightsFile} or {IndexFile} in '{folder}'.");

        var list = files.ToList();
        foreach (string file in list) SafeTensorsHeader.Read(file); // every file checked before any is read
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (string file in list)
        {
            foreach (var (name, t) in SafeTensorsWeights.Read(file))
            {
                if (wanted(name) && !result.ContainsKey(name)) result[name] = t;
                else t.Dispose();
            }
        }
        return result;
    }

    /// <summary>The shard files of an index that hold wanted tensors, in the index's order.</summary>
    private static List<string> ShardsOf(string index, Func<string, bool> wanted)
    {
        JsonObject? map;
        try
        {
            map = JsonNode.Parse(File.ReadAllText(index))?["weight_map"] as JsonObject;
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"'{index}' is not valid JSON ({e.Message}).", e);
        }
        if (map is null) throw new InvalidDataException($"'{index}' has no weight_map.");
        var shards = map.Where(kv => wanted(kv.Key)).Select(kv => kv.Value?.GetValue<string>()
            ?? throw new InvalidDataException($"'{index}' names no file for {kv.Key}.")).Distinct().ToList();
        foreach (string shard in shards)
        {
            if (shard.Contains("..", StringComparison.Ordinal) || Path.IsPathRooted(shard))
                throw new InvalidDataException($"'{index}' names a shard outside its folder: '{shard}'.");
        }
        return shards;
    }

    /// <summary>
    /// Writes <paramref name="model"/> as a Hugging Face CLIPModel folder: config.json, model.safetensors
    /// (in <paramref name="dtype"/>), the tokenizer files copied from <paramref name="tokenizerFolder"/>
    /// and a preprocessor_config.json for its image size.
    /// </summary>
    public static void Save(ClipModel model, string folder, string tokenizerFolder, ScalarType dtype = ScalarType.Float16)
    {
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, ConfigFile), model.Config.ToJson());
        SafeTensorsWeights.Save(model, Path.Combine(folder, WeightsFile), dtype);
        foreach (string file in new[] { ClipTokenizer.VocabFile, ClipTokenizer.MergesFile })
            File.Copy(Path.Combine(tokenizerFolder, file), Path.Combine(folder, file), overwrite: true);
        File.WriteAllText(Path.Combine(folder, ClipImageProcessor.ConfigFile),
            ClipImageProcessor.ForImageSize(model.Config.Vision.ImageSize).ToJson());
    }
}
