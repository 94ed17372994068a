using EDiffI.Conditioning;
using EDiffI.Networks;

namespace EDiffI.Host.Pipeline;

/// <summary>
/// Everything one generation takes, whoever asks (the CLI, the bridge, <c>bench</c>, evaluation): the front
/// ends only fill it in and hand it to <see cref="GenerationService"/>, which owns the defaults and the rules.
/// Null settings take the model's or the configuration's defaults.
/// </summary>
/// <param name="Prompt">The text prompt (every image of the batch), unless <see cref="Prompts"/> gives one per image.</param>
/// <param name="Seed">Seed of the first image; image i uses Seed + i. Null: a random seed, reported in the result.</param>
/// <param name="Steps">Sampler steps; null for the model's default.</param>
/// <param name="Guidance">Classifier-free guidance weight (1 = conditional model only); null for the model's default.</param>
/// <param name="Batch">Number of images (variations of one prompt, or one per entry of <see cref="Prompts"/>).</param>
public sealed record GenerationRequest(string Prompt, long? Seed = null, int? Steps = null, double? Guidance = null, int Batch = 1)
{
    /// <summary>One prompt per image (evaluation, batched serving); null to draw <see cref="Prompt"/> <see cref="Batch"/> times.</summary>
    public IReadOnlyList<string>? Prompts { get; init; }

    /// <summary>Sampler by name (heun, euler, a plugin's); null for configuration <c>Sampling:Sampler</c>, else heun.</summary>
    public string? Sampler { get; init; }

    /// <summary>σ schedule by name; null for configuration <c>Sampling:Schedule</c>, else karras.</summary>
    public string? Schedule { get; init; }

    /// <summary>
    /// Output width in pixels: the base's resolution or a cascade stage's (64, 256, 1024); the cascade runs as far as
    /// that. 0 for the model's default size (the largest its cascade draws, unless model.json says otherwise).
    /// </summary>
    public int Width { get; init; }

    /// <summary>Output height in pixels (equal to the width: the stages draw squares); 0 for the model's default.</summary>
    public int Height { get; init; }

    /// <summary>Settings of the cascade's super-resolution stages by stage name ("sr256", "sr1024"); a stage not named takes model.json's defaults.</summary>
    public IReadOnlyDictionary<string, StageSettings> Stages { get; init; } = new Dictionary<string, StageSettings>();

    /// <summary>
    /// Seamless tiling along X, Y or both: circular padding in every convolution of the base and of each stage, wrap-around
    /// upsampling and windows, so the texture repeats without a seam along those axes.
    /// </summary>
    public TileAxes Tiling { get; init; }

    /// <summary>
    /// With <see cref="Tiling"/>: roll the image by a fresh offset along the wrapping axes before every evaluation of every
    /// stage (<see cref="EDiffI.Denoising.TileShifts"/>), so the networks' cell grid and their habit of drawing lines at the
    /// image's edge do not leave a seam at the wrap edge. On by default; off gives circular padding alone.
    /// </summary>
    public bool TileShift { get; init; } = true;

    /// <summary>
    /// Side of the windows the super-resolution stages run in (blended where they overlap): null chooses automatically,
    /// windows only when a stage would not fit the memory budget (configuration <c>Cascade:MemoryBudgetMB</c>); 0 always
    /// runs the whole image; a side runs windows of that side (a multiple of 32, at least 64).
    /// </summary>
    public int? StageWindow { get; init; }

    /// <summary>
    /// An image to start from (img2img, SDEdit) or to repair (with <see cref="Mask"/>, or <see cref="MakeTileable"/>): a square
    /// of any size; see <see cref="GenerationService"/> for the stage it enters at.
    /// </summary>
    public ConditionerImage? Init { get; init; }

    /// <summary>Where to regenerate <see cref="Init"/> (white = regenerate, black = keep; grey blends), the size of the init.</summary>
    public ConditionerImage? Mask { get; init; }

    /// <summary>How much of the schedule img2img runs: 0 returns the init, 1 runs it all (default 0.6; 1 with a mask).</summary>
    public double? Strength { get; init; }

    /// <summary>
    /// "Make tileable": regenerate a band around the wrap seams of <see cref="Init"/> with tiling on (along
    /// <see cref="Tiling"/>, both axes when it is none), so an existing texture repeats without a seam.
    /// </summary>
    public bool MakeTileable { get; init; }

    /// <summary>
    /// RePaint's resampling for inpainting and make-tileable (Lugmayr et al. 2022): each piece of <see cref="JumpLength"/>
    /// steps is run this many times, the image noised back to the piece's first σ between the runs, so the regenerated
    /// region agrees with the kept one. 1 (the default) is none; r costs r times the evaluations.
    /// </summary>
    public int Resample { get; init; } = 1;

    /// <summary>Steps per resampled piece (RePaint's jump length j); 0 for an eighth of the stage's steps (at least 1).</summary>
    public int JumpLength { get; init; }

    /// <summary>A second seed whose starting noise is mixed into each image's (A1111's variation seed); null for none.</summary>
    public long? VariationSeed { get; init; }

    /// <summary>How far toward <see cref="VariationSeed"/>'s noise (spherical interpolation): 0 none, 1 all of it.</summary>
    public double VariationStrength { get; init; }

    /// <summary>
    /// Conditioner inputs by conditioner name (<see cref="IConditioner.Name"/>): "style" (an image and a
    /// strength), "paint" (a scribble, its legend as JSON and w′), and whatever plugins add ("palette"...).
    /// </summary>
    public IReadOnlyDictionary<string, ConditionerInput> Conditions { get; init; } = new Dictionary<string, ConditionerInput>();

    /// <summary>The prompt of each image, in batch order.</summary>
    public IReadOnlyList<string> PromptOfEach() => Prompts ?? Enumerable.Repeat(Prompt, Batch).ToList();

    /// <summary>A copy with one more conditioner input.</summary>
    public GenerationRequest WithCondition(string name, ConditionerInput input)
    {
        var map = new Dictionary<string, ConditionerInput>(Conditions, StringComparer.OrdinalIgnoreCase) { [name] = input };
        return this with { Conditions = map };
    }
}

/// <summary>What a request sets for one super-resolution stage; null fields take the stage's defaults from model.json.</summary>
/// <param name="Steps">Sampler steps of the stage.</param>
/// <param name="Guidance">Guidance weight of the stage (1: none, one evaluation per step).</param>
/// <param name="AugmentationSigma">σ_aug: the noise the low-resolution input is corrupted with (0: none).</param>
/// <param name="SigmaMax">Largest σ of the stage's schedule (model.json's <c>sigmaMax</c>): lower keeps the output closer to
/// its upsampled input, higher lets the stage redraw more detail.</param>
public sealed record StageSettings(int? Steps = null, double? Guidance = null, double? AugmentationSigma = null, double? SigmaMax = null);

/// <summary>What one super-resolution stage of a generation used.</summary>
/// <param name="Name">The stage ("sr256").</param>
/// <param name="Resolution">Side of its output.</param>
/// <param name="Steps">Sampler steps.</param>
/// <param name="Guidance">Guidance weight.</param>
/// <param name="AugmentationSigma">σ_aug.</param>
public sealed record StageUsed(string Name, int Resolution, int Steps, double Guidance, double AugmentationSigma)
{
    /// <summary>Largest σ of the stage's schedule; null for the schedule's own.</summary>
    public double? SigmaMax { get; init; }
    /// <summary>Side of the windows the stage ran in; 0 when it ran on the whole image.</summary>
    public int Window { get; init; }
    /// <summary>Wall-clock seconds the stage took, its result copied to the CPU (so on a GPU the work is finished).</summary>
    public double Seconds { get; init; }
}

/// <summary>Reports one sampler step of one stage of a generation ("base", then each super-resolution stage by name).</summary>
public delegate void GenerationProgress(string stage, in EDiffI.Sampling.SamplerStep step);

/// <summary>What kind of problem a request has; the bridge maps each to its stable error code.</summary>
public enum ProblemKind
{
    /// <summary>A setting is malformed or out of range.</summary>
    Invalid,
    /// <summary>The model or the host cannot do what is asked (a feature it lacks).</summary>
    Unsupported,
}

/// <summary>The first thing wrong with a request: one message per rule, the same on every front end.</summary>
/// <param name="Kind">The kind of problem.</param>
/// <param name="Message">What is wrong and how to fix it.</param>
public sealed record RequestProblem(ProblemKind Kind, string Message);

/// <summary>The settings a generation used, after defaults: what a user needs to reproduce it.</summary>
/// <param name="Prompt">The prompt (the first image's, when each image had its own).</param>
/// <param name="Seeds">Each image's seed.</param>
/// <param name="Steps">Sampler steps of the base.</param>
/// <param name="Guidance">Guidance weight of the base.</param>
/// <param name="Sampler">Sampler name.</param>
/// <param name="Schedule">σ schedule name.</param>
/// <param name="Width">Output width.</param>
/// <param name="Height">Output height.</param>
/// <param name="Conditions">For each conditioner used, what it reports it used (strength, regions...).</param>
public sealed record GenerationSettingsUsed(string Prompt, IReadOnlyList<long> Seeds, int Steps, double Guidance, string Sampler, string Schedule,
    int Width, int Height, IReadOnlyDictionary<string, IReadOnlyDictionary<string, double>> Conditions)
{
    /// <summary>The super-resolution stages that ran after the base, in order (empty when the base's size was asked for).</summary>
    public IReadOnlyList<StageUsed> Stages { get; init; } = [];

    /// <summary>The axes the texture wraps along.</summary>
    public TileAxes Tiling { get; init; }

    /// <summary>Wall-clock seconds of the base stage (text encoding and conditioners included, its result on the CPU); 0 when the base did not run.</summary>
    public double BaseSeconds { get; init; }

    /// <summary>With tiling, whether the image was rolled by a fresh offset before every evaluation (<see cref="GenerationRequest.TileShift"/>).</summary>
    public bool TileShift { get; init; } = true;

    /// <summary>What was done with an init image: "img2img@256" (the stage it entered at), "inpaint", "make-tileable"; null for none.</summary>
    public string? Edit { get; init; }

    /// <summary>The img2img strength used; null without an init.</summary>
    public double? Strength { get; init; }

    /// <summary>The variation seed and strength used; null for none.</summary>
    public (long Seed, double Strength)? Variation { get; init; }

    /// <summary>RePaint's resampling used (times each piece ran, steps per piece at the base); null for none.</summary>
    public (int Count, int JumpLength)? Resampling { get; init; }
}

/// <summary>The images of a generation with what was used and what the user should know.</summary>
/// <param name="Images">[B, 3, H, W] in [−1, 1], float32, on the CPU; owned by the result.</param>
/// <param name="Settings">The settings used.</param>
/// <param name="Notes">Warnings and notes for the user (a truncated prompt, a resampled scribble...).</param>
public sealed record GenerationResult(TorchSharp.torch.Tensor Images, GenerationSettingsUsed Settings, IReadOnlyList<string> Notes) : IDisposable
{
    /// <inheritdoc />
    public void Dispose() => Images.Dispose();
}
