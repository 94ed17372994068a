using EDiffI.Denoising;
using static TorchSharp.torch;

namespace EDiffI.SuperResolution;

/// <summary>
/// One stage of the cascade (64 → 256 → 1024 in eDiff-I). A stage turns a low-resolution image into
/// a denoiser for the high-resolution image that is conditioned on it, so any sampler runs it.
/// </summary>
public interface ISuperResolutionStage
{
    /// <summary>Side of the images the stage takes.</summary>
    int InputResolution { get; }

    /// <summary>Side of the images the stage produces.</summary>
    int OutputResolution { get; }

    /// <summary>A denoiser over [B, 3, OutputResolution, OutputResolution] conditioned on <paramref name="lowResolution"/> (values in [−1, 1]).</summary>
    IDenoiser ConditionOn(Tensor lowResolution);
}
