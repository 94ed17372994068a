namespace EDiffI.Plugins.Clip;

/// <summary>Resolves an encoder spec's folder against the model folder.</summary>
internal static class SpecFolder
{
    public static string Resolve(string? path, string? modelFolder, string kind)
    {
        if (string.IsNullOrWhiteSpace(path))
            throw new ArgumentException($"a '{kind}' encoder needs Path: the CLIP model folder (config.json, model.safetensors, vocab.json, merges.txt), relative to the model folder");
        return Path.IsPathRooted(path) || modelFolder is null ? Path.GetFullPath(path) : Path.GetFullPath(Path.Combine(modelFolder, path));
    }
}
