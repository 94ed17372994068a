namespace EDiffI.SuperResolution;

/// <summary>
/// One super-resolution stage as <c>model.json</c>'s <c>cascade</c> lists it, in order: the base draws at its
/// own resolution, then each stage takes the previous output to <see cref="Resolution"/>.
/// </summary>
public sealed record CascadeStageSpec
{
    /// <summary>The stage's name (<c>--size</c> and progress name it by resolution; messages by this name).</summary>
    public string Name { get; init; } = "";
    /// <summary>The kind of stage, provided by a plugin (<see cref="ISuperResolutionFamily"/>).</summary>
    public string Kind { get; init; } = "ediffi-sr";
    /// <summary>The stage's folder, relative to the model folder.</summary>
    public string Folder { get; init; } = "";
    /// <summary>Side of the images the stage produces.</summary>
    public int Resolution { get; init; }
    /// <summary>Default sampler steps of the stage.</summary>
    public int DefaultSteps { get; init; } = 8;
    /// <summary>Default guidance weight of the stage (1: no classifier-free guidance, one evaluation per step).</summary>
    public double DefaultGuidance { get; init; } = 1;
    /// <summary>
    /// Largest σ of the stage's schedule; null for the schedule's own (80). A stage denoises an image whose layout its
    /// low-resolution input already fixes, so it can start lower and spend its few steps where detail forms.
    /// </summary>
    public double? SigmaMax { get; init; }
    /// <summary>
    /// Whether sampling starts from the upsampled low-resolution image noised to the schedule's first σ (as SDEdit
    /// starts from an init image) rather than from noise alone; with a low <see cref="SigmaMax"/> it keeps the stage
    /// faithful to its input (higher PSNR against the real render).
    /// </summary>
    public bool StartFromInput { get; init; }
    /// <summary>Default σ_aug: the noise level the low-resolution input is corrupted with at inference.</summary>
    public double AugmentationSigma { get; init; } = 0.1;
}
