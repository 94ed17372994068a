using System.Text.Json;
using EDiffI.Encoders;
using EDiffI.Experts;
using EDiffI.Host.Runtime;
using EDiffI.IO;

namespace EDiffI.Host.Pipeline;

/// <summary>
/// <c>model.json</c>: what a model folder holds besides the network's own files: the network kind,
/// the text encoder of each stream, and the sampling defaults.
/// </summary>
public sealed record ModelManifest
{
    /// <summary>File name of the manifest inside a model folder.</summary>
    public const string FileName = "model.json";

    /// <summary>Format marker.</summary>
    public string Format { get; init; } = "ediffi-model/1";
    /// <summary>Kind of the network (an <see cref="Networks.INetworkFamily"/> a plugin provides).</summary>
    public string Network { get; init; } = "ediffi-unet";
    /// <summary>Encoder of the T5 stream, or null when the model has none.</summary>
    public TextEncoderSpec? T5 { get; init; }
    /// <summary>Encoder of the CLIP text stream, or null when the model has none.</summary>
    public TextEncoderSpec? ClipText { get; init; }
    /// <summary>Encoder of the CLIP image stream (style reference), or null when the model has none.</summary>
    public ImageEncoderSpec? ClipImage { get; init; }
    /// <summary>
    /// The ensemble of expert denoisers (eDiff-I, Section 4.1): each expert's network folder and the
    /// noise levels it serves. Null for a single network stored in the model folder itself.
    /// </summary>
    public ExpertEnsembleSpec? Ensemble { get; init; }
    /// <summary>
    /// The model this one adapts, relative to this folder: its networks and encoders are loaded from there, and
    /// this manifest adds <see cref="Adapters"/> (an adapter folder is small: only the slots' weights). Null for a full model.
    /// </summary>
    public string? Base { get; init; }
    /// <summary>Conditioners whose generic slots (and trained weights) this model adds to its networks.</summary>
    public IReadOnlyList<AdapterSpec> Adapters { get; init; } = [];
    /// <summary>
    /// The super-resolution cascade after the base (eDiff-I, Section 4.2), in order: each stage takes the previous
    /// output to its resolution. Empty for a base-only model.
    /// </summary>
    public IReadOnlyList<EDiffI.SuperResolution.CascadeStageSpec> Cascade { get; init; } = [];
    /// <summary>
    /// The height-from-albedo estimator of the PBR maps (<c>generate --pbr</c>), or null when the model ships none (then the
    /// luminance heuristic stands in). A kind no loaded plugin provides is not an error: the heuristic stands in, with a note.
    /// </summary>
    public EDiffI.Textures.HeightEstimatorSpec? Height { get; init; }
    /// <summary>Side of the images a request that names no size gets; 0 for the largest the cascade draws.</summary>
    public int DefaultSize { get; init; }
    /// <summary>Default number of sampler steps.</summary>
    public int DefaultSteps { get; init; } = 32;
    /// <summary>Default classifier-free guidance weight.</summary>
    public double DefaultGuidance { get; init; } = 2;
    /// <summary>Training steps the weights have seen.</summary>
    public long TrainedSteps { get; init; }

    /// <summary>How <c>model.json</c> keeps its version: <see cref="Format"/>, <c>"ediffi-model/1"</c>.</summary>
    public static JsonFileKind Kind { get; } = new("model manifest", "format", 1, "ediffi-model/");

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase, RespectNullableAnnotations = true,
    };

    /// <summary>Writes the manifest into <paramref name="folder"/>.</summary>
    public void Save(string folder) =>
        SafeTensorsWeights.WriteAtomically(Path.Combine(folder, FileName), s => JsonSerializer.Serialize(s, this, Json));

    /// <summary>
    /// Reads the manifest of <paramref name="folder"/>; a folder without one, malformed JSON, a field of
    /// the wrong type or a version from a newer EDiffI is refused with a message naming the file and the field.
    /// </summary>
    /// <exception cref="UserException">Naming what is wrong.</exception>
    public static ModelManifest Load(string folder)
    {
        string path = Path.Combine(folder, FileName);
        if (!File.Exists(path))
            throw new UserException($"'{folder}' is not a model folder: it has no {FileName}. Train one with " +
                "`dotnet run --project Host -- train --data <folder> --out <dir>` and pass --model <dir>/model.");
        try
        {
            return JsonFiles.Read<ModelManifest>(path, Kind, Json);
        }
        catch (InvalidDataException e)
        {
            throw new UserException(e.Message, e);
        }
    }
}
