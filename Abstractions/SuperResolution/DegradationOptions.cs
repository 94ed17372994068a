using System.Text.Json;

namespace EDiffI.SuperResolution;

/// <summary>
/// eDiff-I's "random degradation" of a super-resolution stage's low-resolution input in training, so the stage
/// forgives what the previous stage gets wrong. Each part is drawn per image; see README ("The cascade") for the
/// published values these follow.
/// </summary>
public sealed record DegradationOptions
{
    /// <summary>Probability of taking the source's real low-resolution render (when it has one) over a downsampling of the high-resolution image.</summary>
    public double RealRender { get; init; } = 0.5;
    /// <summary>Probability of a Gaussian blur of the low-resolution image.</summary>
    public double BlurProbability { get; init; } = 0.5;
    /// <summary>Smallest blur σ, in low-resolution pixels.</summary>
    public double BlurSigmaMin { get; init; } = 0.4;
    /// <summary>Largest blur σ, in low-resolution pixels.</summary>
    public double BlurSigmaMax { get; init; } = 1.2;
    /// <summary>Probability of a JPEG-like quantisation (8×8 DCT blocks, the JPEG luminance table scaled by a quality).</summary>
    public double QuantisationProbability { get; init; } = 0.3;
    /// <summary>Lowest JPEG quality drawn.</summary>
    public int QualityMin { get; init; } = 30;
    /// <summary>Highest JPEG quality drawn.</summary>
    public int QualityMax { get; init; } = 95;
    /// <summary>Largest σ_aug drawn (uniformly from [0, max]); 0 turns noise augmentation off.</summary>
    public double AugmentationMax { get; init; } = 0.5;
    /// <summary>Probability of σ_aug = 0 exactly (the clean input the stage sees when asked for no augmentation).</summary>
    public double AugmentationZero { get; init; } = 0.1;

    /// <summary>What is wrong with these values, in the words of their JSON fields; null when nothing is.</summary>
    public string? Problem()
    {
        foreach (var (name, p) in new[] { ("realRender", RealRender), ("blurProbability", BlurProbability),
                     ("quantisationProbability", QuantisationProbability), ("augmentationZero", AugmentationZero) })
            if (!(p >= 0 && p <= 1)) return $"{name} is a probability: it must lie between 0 and 1 (got {p})";
        if (!(BlurSigmaMin >= 0 && BlurSigmaMax >= BlurSigmaMin && BlurSigmaMax <= 3))
            return $"the blur σ must satisfy 0 ≤ blurSigmaMin ≤ blurSigmaMax ≤ 3 low-resolution pixels (got {BlurSigmaMin} and {BlurSigmaMax})";
        if (!(QualityMin >= 1 && QualityMax >= QualityMin && QualityMax <= 100))
            return $"the JPEG quality must satisfy 1 ≤ qualityMin ≤ qualityMax ≤ 100 (got {QualityMin} and {QualityMax})";
        if (!(AugmentationMax >= 0)) return $"augmentationMax must not be negative (got {AugmentationMax})";
        return null;
    }

    private static readonly EDiffI.IO.JsonFileKind Kind = new("degradation file", "version", 1);

    private static readonly JsonSerializerOptions FileJson = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase, UnmappedMemberHandling = System.Text.Json.Serialization.JsonUnmappedMemberHandling.Disallow,
    };

    /// <summary>
    /// Reads a degradation from a JSON object with these fields in camelCase (as a stage's <c>stage.json</c> records
    /// it); fields left out keep their defaults.
    /// </summary>
    /// <exception cref="FileNotFoundException">When the file does not exist.</exception>
    /// <exception cref="InvalidDataException">When it is not such an object, or its values are out of range.</exception>
    public static DegradationOptions Load(string path)
    {
        var options = EDiffI.IO.JsonFiles.Read<DegradationOptions>(path, Kind, FileJson);
        return options.Problem() is { } problem ? throw new InvalidDataException($"'{path}': {problem}") : options;
    }

    /// <summary>No degradation and no augmentation: the low-resolution input as given (the ablation without noise augmentation keeps the rest).</summary>
    public static DegradationOptions None { get; } = new()
    {
        RealRender = 1, BlurProbability = 0, QuantisationProbability = 0, AugmentationMax = 0, AugmentationZero = 1,
    };
}
