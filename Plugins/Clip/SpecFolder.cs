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

    /// <summary>The configuration of the CLIP folder <paramref name="folder"/>, read as loading it would.</summary>
    public static ClipConfig Config(string folder)
    {
        if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"The CLIP model folder '{folder}' does not exist.");
        return ClipConfig.Load(Path.Combine(folder, ClipCheckpoint.ConfigFile));
    }
}
