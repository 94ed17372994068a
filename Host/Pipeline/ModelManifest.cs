using System.Text.Json;
using EDiffI.Encoders;
using EDiffI.Host.Runtime;
using EDiffI.Plugins.TextHash;

namespace EDiffI.Host.Pipeline;

/// <summary>Which text encoder feeds a stream, and how it is built.</summary>
public sealed record TextEncoderSpec
{
    /// <summary>Encoder kind; "word-hash" is built in (T5 and CLIP plugins add theirs).</summary>
    public string Kind { get; init; } = "word-hash";
    /// <summary>Width of each token embedding.</summary>
    public int Dimension { get; init; } = 64;
    /// <summary>Most tokens per prompt.</summary>
    public int MaxTokens { get; init; } = 32;
    /// <summary>Seed of a word-hash encoder's table.</summary>
    public long Seed { get; init; } = 1;
}

/// <summary>
/// <c>model.json</c>: what a model folder holds besides the U-Net (<c>unet.json</c>, <c>unet.safetensors</c>):
/// the text encoders of each stream and the sampling defaults.
/// </summary>
public sealed record ModelManifest
{
    /// <summary>File name of the manifest inside a model folder.</summary>
    public const string FileName = "model.json";

    /// <summary>Format marker.</summary>
    public string Format { get; init; } = "ediffi-model/1";
    /// <summary>Encoder of the T5 stream, or null when the model has none.</summary>
    public TextEncoderSpec? T5 { get; init; }
    /// <summary>Encoder of the CLIP text stream, or null when the model has none.</summary>
    public TextEncoderSpec? ClipText { get; init; }
    /// <summary>Default number of sampler steps.</summary>
    public int DefaultSteps { get; init; } = 32;
    /// <summary>Default classifier-free guidance weight.</summary>
    public double DefaultGuidance { get; init; } = 2;
    /// <summary>Training steps the weights have seen.</summary>
    public long TrainedSteps { get; init; }

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    /// <summary>Writes the manifest into <paramref name="folder"/>.</summary>
    public void Save(string folder) =>
        EDiffI.IO.SafeTensorsWeights.WriteAtomically(Path.Combine(folder, FileName),
            s => JsonSerializer.Serialize(s, this, Json));

    /// <summary>Reads the manifest of <paramref name="folder"/>, with a clear message when it is not a model folder.</summary>
    public static ModelManifest Load(string folder)
    {
        string path = Path.Combine(folder, FileName);
        if (!File.Exists(path))
            throw new UserException($"'{folder}' is not a model folder: it has no {FileName}. Train one with " +
                "`dotnet run --project Host -- train --data <folder> --out <dir>` and pass --model <dir>/model.");
        try
        {
            return JsonSerializer.Deserialize<ModelManifest>(File.ReadAllText(path), Json) ?? throw new JsonException("empty");
        }
        catch (JsonException e)
        {
            throw new UserException($"'{path}' is not a valid model manifest: {e.Message}", e);
        }
    }

    /// <summary>Builds the encoder a spec names.</summary>
    public static ITextEncoder CreateEncoder(TextEncoderSpec spec) => spec.Kind switch
    {
        "word-hash" => new WordHashTextEncoder(new WordHashOptions { Dimension = spec.Dimension, MaxTokens = spec.MaxTokens, Seed = spec.Seed }),
        _ => throw new UserException($"Text encoder '{spec.Kind}' is not available in this build (available: word-hash)."),
    };
}
