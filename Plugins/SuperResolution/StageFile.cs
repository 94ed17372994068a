using System.Text.Json;
using EDiffI.IO;
using EDiffI.SuperResolution;

namespace EDiffI.Plugins.SuperResolution;

/// <summary>
/// <c>stage.json</c> in a stage's folder, beside the network's own files: what the stage takes and gives, the network
/// kind that loads it, and the degradation it was trained with (for the record).
/// </summary>
public sealed record StageFile
{
    /// <summary>File name inside a stage folder.</summary>
    public const string FileName = "stage.json";

    /// <summary>Format marker.</summary>
    public string Format { get; init; } = "ediffi-sr/1";
    /// <summary>The network family that loads the stage's network.</summary>
    public string Network { get; init; } = "ediffi-unet";
    /// <summary>Side of the images the stage takes.</summary>
    public int InputResolution { get; init; }
    /// <summary>Side of the images the stage produces.</summary>
    public int OutputResolution { get; init; }
    /// <summary>Side of the training crops.</summary>
    public int TrainingCrop { get; init; }
    /// <summary>Training steps the weights have seen.</summary>
    public long TrainedSteps { get; init; }
    /// <summary>Whether the network learns the detail over the bicubic upsampled input rather than the image (<see cref="StageTarget"/>).</summary>
    public bool Residual { get; init; }
    /// <summary>σ_data of the network's preconditioning: the standard deviation of what it learns.</summary>
    public double SigmaData { get; init; } = EDiffI.Diffusion.Edm.SigmaData;
    /// <summary>The degradation of the low-resolution input in the last training run.</summary>
    public DegradationOptions? Degradation { get; init; }
    /// <summary>The training runs before the last one, oldest first (steps, crop and degradation of each); null when there were none.</summary>
    public IReadOnlyList<StageTrainingRun>? History { get; init; }

    /// <summary>How the file keeps its version.</summary>
    public static JsonFileKind Kind { get; } = new("super-resolution stage", "format", 1, "ediffi-sr/");

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase, RespectNullableAnnotations = true,
    };

    /// <summary>Writes the file into <paramref name="folder"/>.</summary>
    public void Save(string folder) =>
        SafeTensorsWeights.WriteAtomically(Path.Combine(folder, FileName), s => JsonSerializer.Serialize(s, this, Json));

    /// <summary>Reads the file of <paramref name="folder"/>.</summary>
    /// <exception cref="FileNotFoundException">When the folder has none.</exception>
    /// <exception cref="InvalidDataException">When it is malformed or from a newer EDiffI.</exception>
    public static StageFile Load(string folder)
    {
        string path = Path.Combine(folder, FileName);
        if (!File.Exists(path)) throw new FileNotFoundException($"'{folder}' is not a super-resolution stage: it has no {FileName}", path);
        return JsonFiles.Read<StageFile>(path, Kind, Json);
    }
}
