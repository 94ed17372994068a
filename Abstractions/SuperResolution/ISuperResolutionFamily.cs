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
    /// <paramref name="outputResolution"/> whose text streams have the widths of the encoders it will be trained with;
    /// <paramref name="target"/> says what its network learns (null: the image, <see cref="StageTarget.Image"/>).
    /// </summary>
    /// <exception cref="ArgumentException">For an unknown shape, a bad pair of resolutions or a bad target.</exception>
    ISuperResolutionStage Create(string name, string preset, int inputResolution, int outputResolution, ConditioningWidths text,
        StageTarget? target = null);

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
    /// noised at a σ_aug drawn per image, as <paramref name="degradation"/> says; with it, what the network learns for
    /// the batch (the images, or for a residual stage their detail over the upsampled degraded input).
    /// Uses only <paramref name="generator"/>.
    /// </summary>
    StageTrainingInput TrainingStream(ISuperResolutionStage stage, Tensor highResolution, Tensor? lowResolution, Generator generator,
        DegradationOptions degradation);
}

/// <summary>One training batch of a stage: the low-resolution stream and the target the denoiser is trained towards.</summary>
/// <param name="Stream">The stage's conditioning stream.</param>
/// <param name="Target">[B, 3, H, W]: the high-resolution images, or their detail over the upsampled input.</param>
public sealed record StageTrainingInput(ConditioningStream Stream, Tensor Target) : IDisposable
{
    /// <inheritdoc />
    public void Dispose()
    {
        Stream.Dispose();
        Target.Dispose();
    }
}

/// <summary>What a stage was trained on, kept in its folder for the record.</summary>
/// <param name="Steps">Training steps in all, the earlier runs' included.</param>
/// <param name="Crop">Side of the training crops of the last run.</param>
/// <param name="Degradation">The degradation of the low-resolution input in the last run.</param>
/// <param name="Earlier">The runs before the last one, oldest first (a fine-tune's starting stage and its own history); null or empty for none.</param>
public sealed record StageTraining(long Steps, int Crop, DegradationOptions Degradation, IReadOnlyList<StageTrainingRun>? Earlier = null);

/// <summary>One earlier training run of a stage (<see cref="StageTraining.Earlier"/>).</summary>
/// <param name="Steps">The steps this run trained.</param>
/// <param name="Crop">Side of its training crops (0 when not recorded).</param>
/// <param name="Degradation">Its degradation of the low-resolution input; null when not recorded.</param>
public sealed record StageTrainingRun(long Steps, int Crop, DegradationOptions? Degradation);
