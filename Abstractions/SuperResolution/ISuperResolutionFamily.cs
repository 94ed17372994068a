using EDiffI.Conditioning;
using EDiffI.Data;
using EDiffI.Networks;
using static TorchSharp.torch;

namespace EDiffI.SuperResolution;

/// <summary>A kind of super-resolution stage a plugin provides ("ediffi-sr"): how to build, load and train one.</summary>
public interface ISuperResolutionFamily
{
    /// <summary>The kind <c>model.json</c>'s cascade entries name.</summary>
    string Kind { get; }

    /// <summary>Named network shapes <see cref="Create"/> knows.</summary>
    IReadOnlyList<string> Presets { get; }

    /// <summary>
    /// A randomly initialised stage <paramref name="name"/> from <paramref name="inputResolution"/> to
    /// <paramref name="outputResolution"/> whose text streams have the widths of the encoders it will be trained with.
    /// </summary>
    /// <exception cref="ArgumentException">For an unknown shape or a bad pair of resolutions.</exception>
    ISuperResolutionStage Create(string name, string preset, int inputResolution, int outputResolution, ConditioningWidths text);

    /// <summary>Loads the stage <paramref name="spec"/> names from <paramref name="folder"/> (its own folder).</summary>
    /// <exception cref="FileNotFoundException">When the folder lacks the stage's files.</exception>
    /// <exception cref="InvalidDataException">When they are unreadable or do not match.</exception>
    ISuperResolutionStage Load(CascadeStageSpec spec, string folder);

    /// <summary>
    /// Writes <paramref name="stage"/> into <paramref name="folder"/>: its network (with <paramref name="weights"/> instead of
    /// its own when given, such as the EMA; cast to <paramref name="dtype"/> when given) and its description, with what it
    /// was trained on.
    /// </summary>
    void Save(ISuperResolutionStage stage, string folder, ScalarType? dtype = null, IReadOnlyDictionary<string, Tensor>? weights = null,
        StageTraining? training = null);

    /// <summary>
    /// The training input of a stage for one batch of high-resolution images (crops): the low-resolution image is
    /// the source's own render at the stage's input resolution where it has one (<see cref="TrainingBatch.LowResolution"/>)
    /// or a downsampling of the high-resolution image, then randomly degraded (blur, a JPEG-like quantisation) and
    /// noised at a σ_aug drawn per image, as <paramref name="degradation"/> says. Uses only <paramref name="generator"/>.
    /// </summary>
    ConditioningStream TrainingStream(ISuperResolutionStage stage, Tensor highResolution, Tensor? lowResolution, Generator generator,
        DegradationOptions degradation);
}

/// <summary>What a stage was trained on, kept in its folder for the record.</summary>
/// <param name="Steps">Training steps.</param>
/// <param name="Crop">Side of the training crops.</param>
/// <param name="Degradation">The degradation of the low-resolution input.</param>
public sealed record StageTraining(long Steps, int Crop, DegradationOptions Degradation);
