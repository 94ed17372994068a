using EDiffI.Conditioning;
using EDiffI.Denoising;
using EDiffI.Networks;
using static TorchSharp.torch;

namespace EDiffI.SuperResolution;

/// <summary>
/// One stage of the cascade (64 → 256 → 1024 in eDiff-I, Section 4.2): a network over the high-resolution image
/// that reads the low-resolution image, upsampled to its size and corrupted by Gaussian noise of level σ_aug,
/// through a conditioning stream of the network's own (a generic slot), and σ_aug itself through that stream's pooled vector
/// (noise conditioning augmentation: Ho et al. 2021, Imagen, DeepFloyd IF's aug_level). Any sampler runs the
/// denoiser <see cref="ConditionOn"/> yields.
/// </summary>
public interface ISuperResolutionStage : IDisposable
{
    /// <summary>The stage's name in the cascade ("sr256", "sr1024").</summary>
    string Name { get; }

    /// <summary>Side of the images the stage takes.</summary>
    int InputResolution { get; }

    /// <summary>Side of the images the stage produces.</summary>
    int OutputResolution { get; }

    /// <summary>The conditioning stream (the network's generic slot) that carries the low-resolution image and σ_aug.</summary>
    string StreamName { get; }

    /// <summary>The trainable network (it runs convolutionally, on crops in training and on the whole image at inference).</summary>
    INetwork Network { get; }

    /// <summary>What the network learns: the high-resolution image, or its detail over the upsampled input, and at which σ_data.</summary>
    StageTarget Target { get; }

    /// <summary>
    /// The low-resolution conditioning for a network input the size of <paramref name="noise"/>:
    /// spatial = bicubic(lowResolution → H×W) + σ_aug·ε with ε = <paramref name="noise"/>, and pooled = the
    /// augmentation embedding of σ_aug (<see cref="AugmentationEmbedding"/>).
    /// </summary>
    /// <param name="lowResolution">[B, 3, h, w] in [−1, 1].</param>
    /// <param name="sigmaAug">σ_aug per image, [B].</param>
    /// <param name="noise">ε, unit Gaussian noise [B, 3, H, W] (the caller draws it, so each image's depends only on its own seed).</param>
    /// <param name="tiling">Axes along which the image wraps: the bicubic upsampling reads across the opposite edge there.</param>
    ConditioningStream LowResolutionStream(Tensor lowResolution, Tensor sigmaAug, Tensor noise, TileAxes tiling = TileAxes.None);

    /// <summary>The embedding of σ_aug added to the time embedding, [B, W].</summary>
    Tensor AugmentationEmbedding(Tensor sigmaAug);

    /// <summary>
    /// A denoiser over [B, 3, OutputResolution, OutputResolution] conditioned on <paramref name="lowResolution"/>
    /// (values in [−1, 1]) noised at <paramref name="sigmaAug"/> by <paramref name="noise"/> (see <see cref="LowResolutionStream"/>);
    /// the caller's conditioning (text) is passed through. <paramref name="layout"/> says whether the image wraps and
    /// whether the network runs in overlapping windows (to fit a memory budget) rather than on the whole image.
    /// </summary>
    IDenoiser ConditionOn(Tensor lowResolution, double sigmaAug, Tensor noise, StageLayout? layout = null);
}

/// <summary>
/// What a stage's network learns. A full stage denoises the high-resolution image itself (EDM's σ_data 0.5). A residual
/// stage denoises its detail, the image minus the bicubic upsampling of the clean low-resolution input: D(x; σ) =
/// up + D_r(x − up; σ), with D_r preconditioned at the detail's own, smaller σ_data. A residual network whose output is
/// zero gives bicubic upsampling exactly, so training starts from it and learns only what bicubic lacks (the residual
/// formulation of SRDiff, Li et al. 2022, and ResShift, Yue et al. 2023). The sampler is unchanged: noise added to the
/// image is noise added to its detail.
/// </summary>
/// <param name="Residual">Whether the network learns the detail over the upsampled input.</param>
/// <param name="SigmaData">Standard deviation of what it learns (the preconditioning's σ_data).</param>
public sealed record StageTarget(bool Residual = false, double SigmaData = Diffusion.Edm.SigmaData)
{
    /// <summary>The whole image at EDM's σ_data: what stages without a word on it learn.</summary>
    public static StageTarget Image { get; } = new();

    /// <summary>Why this target cannot be used, or null.</summary>
    public string? Problem() => SigmaData > 0 && double.IsFinite(SigmaData) ? null : $"σ_data must be a positive number (got {SigmaData})";

    /// <inheritdoc />
    public override string ToString() => Residual ? $"detail over bicubic, σ_data {SigmaData:0.###}" : $"image, σ_data {SigmaData:0.###}";
}

/// <summary>How a super-resolution stage runs over the image.</summary>
/// <param name="Tiling">Axes along which the texture wraps (circular padding, wrap-around upsampling and windows).</param>
/// <param name="Window">
/// Side of the square windows the network runs on, blended where they overlap; 0 (or at least the image's side) runs the
/// whole image at once. Windows along a wrapping axis continue across the edge.
/// </param>
/// <param name="Overlap">Pixels shared by neighbouring windows, blended with weights that fall to zero at a window's border.</param>
/// <param name="Shifts">Along the wrapping axes, roll the image (and its low-resolution stream) by these offsets before every
/// evaluation and back after it (<see cref="Denoising.TileShifts"/>); null never rolls.</param>
public sealed record StageLayout(TileAxes Tiling = TileAxes.None, int Window = 0, int Overlap = 0, Denoising.TileShifts? Shifts = null)
{
    /// <summary>The whole image, no wrap.</summary>
    public static StageLayout Whole { get; } = new();
}
