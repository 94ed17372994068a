using EDiffI.Host.Runtime;

namespace EDiffI.Host.Pipeline;

/// <summary>
/// Finds the shipped default model for <c>generate</c> and <c>serve</c> when no <c>--model</c> is
/// given: in the folder named by <see cref="ModelsVariable"/> (its <c>default</c> subfolder), else in
/// <c>models/default</c> of the working folder, of the host's own folder (a published host carries
/// it there) or of any folder above the host (the repository root when the host runs from
/// <c>Host/bin/&lt;configuration&gt;/net10.0</c>).
/// </summary>
public static class ModelLocator
{
    /// <summary>The environment variable naming a folder of model folders; its <c>default</c> one is used.</summary>
    public const string ModelsVariable = "EDIFFI_MODELS";

    /// <summary>The default model's folder name inside a folder of models.</summary>
    public const string DefaultName = "default";

    /// <summary>The default model relative to the folders searched.</summary>
    public static readonly string DefaultModel = Path.Combine("models", DefaultName);

    /// <summary>The default model's folder, from the environment, the working folder and the host's folder.</summary>
    /// <exception cref="UserException">No model is found; the message lists every place looked in and the ways to fix it.</exception>
    public static string ResolveDefault() =>
        ResolveDefault(Environment.GetEnvironmentVariable(ModelsVariable), Directory.GetCurrentDirectory(), AppContext.BaseDirectory);

    /// <summary>The default model's folder, given the value of <see cref="ModelsVariable"/> (null when unset), the working folder and the host's folder.</summary>
    internal static string ResolveDefault(string? modelsFolder, string workingFolder, string hostFolder)
    {
        if (!string.IsNullOrWhiteSpace(modelsFolder))
        {
            // An explicit setting that points nowhere is a mistake to report, not a reason to fall back silently.
            string named = Path.Combine(Path.GetFullPath(modelsFolder), DefaultName);
            if (IsModel(named)) return named;
            throw new UserException(
                $"{ModelsVariable} is set to '{modelsFolder}', but {named} holds no {ModelManifest.FileName}. " +
                $"Set {ModelsVariable} to a folder whose '{DefaultName}' subfolder is a model (as the repository's models/ is), " +
                $"unset it, or pass --model <folder>.");
        }
        var looked = new List<string>();
        foreach (string candidate in Candidates(DefaultModel, workingFolder, hostFolder))
        {
            if (IsModel(candidate)) return candidate;
            looked.Add(candidate);
        }
        throw new UserException(
            $"No trained model was found, and this command never draws from random weights. Looked for {Path.Combine(DefaultModel, ModelManifest.FileName)} in:" +
            string.Concat(looked.Select(folder => Environment.NewLine + "  " + folder)) + Environment.NewLine +
            "Pass --model <folder> (`train --data <folder> --out <dir>` writes a model to <dir>/model), " +
            $"set {ModelsVariable} to a folder that holds '{DefaultName}/' (the repository's models/ folder), " +
            "or run from the repository root.");
    }

    /// <summary>The judge's weights inside a folder of models, as the repository's models/ holds them.</summary>
    public static readonly string JudgeWeights = Path.Combine("judge", "judge.safetensors");

    /// <summary>
    /// The judge of evaluations (models/judge/judge.safetensors), looked for where <see cref="ResolveDefault()"/> looks for
    /// the default model: in <see cref="ModelsVariable"/>'s folder, else the working folder, the host's and those above it.
    /// </summary>
    /// <exception cref="UserException">No judge is found; the message lists where it looked.</exception>
    public static string ResolveJudge() =>
        ResolveJudge(Environment.GetEnvironmentVariable(ModelsVariable), Directory.GetCurrentDirectory(), AppContext.BaseDirectory);

    /// <summary>The judge's weights, given the value of <see cref="ModelsVariable"/>, the working folder and the host's folder.</summary>
    internal static string ResolveJudge(string? modelsFolder, string workingFolder, string hostFolder)
    {
        var looked = new List<string>();
        var candidates = !string.IsNullOrWhiteSpace(modelsFolder) ? [Path.Combine(Path.GetFullPath(modelsFolder), JudgeWeights)]
            : Candidates(Path.Combine("models", JudgeWeights), workingFolder, hostFolder);
        foreach (string candidate in candidates)
        {
            if (File.Exists(candidate)) return candidate;
            looked.Add(candidate);
        }
        throw new UserException("No judge was found (the world's judge, models/judge/judge.safetensors). Looked in:" +
            string.Concat(looked.Select(file => Environment.NewLine + "  " + file)) + Environment.NewLine +
            "Pass --judge <file.safetensors> (tools/Judge trains one), or run from the repository root.");
    }

    // The working folder first (what a user in the repository expects), then the host's folder and each folder above it.
    private static IEnumerable<string> Candidates(string relative, string workingFolder, string hostFolder)
    {
        var seen = new HashSet<string>(OperatingSystem.IsWindows() ? StringComparer.OrdinalIgnoreCase : StringComparer.Ordinal);
        var roots = new List<string> { Path.GetFullPath(workingFolder) };
        for (var dir = new DirectoryInfo(Path.GetFullPath(hostFolder)); dir is not null; dir = dir.Parent) roots.Add(dir.FullName);
        foreach (string root in roots)
        {
            string candidate = Path.Combine(root, relative);
            if (seen.Add(Path.TrimEndingDirectorySeparator(candidate))) yield return candidate;
        }
    }

    private static bool IsModel(string folder) => File.Exists(Path.Combine(folder, ModelManifest.FileName));
}
