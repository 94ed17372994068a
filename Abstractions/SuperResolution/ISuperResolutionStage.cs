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

    /// <summary>The trainable network (it runs convolutionally, on crops in training and on the whole image at inference).</summary>
    INetwork Network { get; }

    /// <summary>
    /// The low-resolution conditioning for the network at <paramref name="height"/>×<paramref name="width"/>:
    /// spatial = bicubic(lowResolution → height×width) + σ_aug·ε, ε ~ N(0, I) drawn from <paramref name="generator"/>,
    /// and pooled = the augmentation embedding of σ_aug (<see cref="AugmentationEmbedding"/>).
    /// </summary>
    /// <param name="lowResolution">[B, 3, h, w] in [−1, 1].</param>
    /// <param name="sigmaAug">σ_aug per image, [B].</param>
    /// <param name="height">Rows of the network's input.</param>
    /// <param name="width">Columns of the network's input.</param>
    /// <param name="generator">Source of ε; null for the global generator.</param>
    ConditioningStream LowResolutionStream(Tensor lowResolution, Tensor sigmaAug, long height, long width, Generator? generator);

    /// <summary>The embedding of σ_aug added to the time embedding, [B, W].</summary>
    Tensor AugmentationEmbedding(Tensor sigmaAug);

    /// <summary>
    /// A denoiser over [B, 3, OutputResolution, OutputResolution] conditioned on <paramref name="lowResolution"/>
    /// (values in [−1, 1]) noised at <paramref name="sigmaAug"/>; the caller's conditioning (text) is passed through.
    /// </summary>
    IDenoiser ConditionOn(Tensor lowResolution, double sigmaAug, Generator? generator = null);
}
