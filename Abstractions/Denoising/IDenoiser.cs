using EDiffI.Conditioning;
using static TorchSharp.torch;

namespace EDiffI.Denoising;

/// <summary>
/// The one interface at the centre: a denoiser D(x; σ, c) in the EDM convention (Karras et al.
/// 2022, Section 2). It returns the estimate of the clean image, not the noise. Samplers only ever
/// call this; guidance, expert routing and super-resolution conditioning are denoisers that wrap
/// denoisers.
/// </summary>
public interface IDenoiser
{
    /// <summary>
    /// Estimates the clean image from the noisy <paramref name="x"/> of noise level <paramref name="sigma"/>.
    /// </summary>
    /// <param name="x">Noisy images, [B, C, H, W]; any floating dtype (samplers use float64).</param>
    /// <param name="sigma">Noise level per sample, shape [B], same dtype and device as x.</param>
    /// <param name="conditioning">Text and image conditioning for the batch.</param>
    /// <returns>D(x; σ), same shape, dtype and device as <paramref name="x"/>.</returns>
    Tensor Denoise(Tensor x, Tensor sigma, ConditioningInputs conditioning);

    /// <summary>
    /// D(x; σ, c) with one noise level for the whole batch, known on the host. Samplers call this, so a
    /// wrapper that decides on σ (the expert router) never has to read σ back from the device, which would
    /// wait for the GPU once per evaluation. The default builds the σ tensor and calls the tensor overload;
    /// wrappers that pass σ on unchanged override this one too.
    /// </summary>
    Tensor Denoise(Tensor x, double sigma, ConditioningInputs conditioning) =>
        Denoise(x, full(x.shape[0], sigma, dtype: x.dtype, device: x.device), conditioning);
}

/// <summary>
/// The raw network F_θ that EDM preconditioning wraps (Karras et al. 2022, Eq. 7):
/// D(x; σ) = c_skip(σ) x + c_out(σ) F_θ(c_in(σ) x; c_noise(σ)).
/// </summary>
public interface IEdmNetwork
{
    /// <summary>Dtype the network computes in (float32 on CPU, bfloat16 on GPU); inputs are cast to it.</summary>
    ScalarType ComputeType { get; }

    /// <summary>
    /// F_θ(x_in; c_noise, c): output has the shape of <paramref name="xIn"/> and the dtype <see cref="ComputeType"/>.
    /// The network embeds <paramref name="cNoise"/>; <paramref name="sigma"/> is the noise level itself, passed
    /// alongside so layers that need σ (paint-with-words' ω(σ)) never decode it from c_noise.
    /// </summary>
    /// <param name="xIn">c_in(σ) x, [B, C, H, W], in <see cref="ComputeType"/>.</param>
    /// <param name="sigma">σ per sample, [B] (float32).</param>
    /// <param name="cNoise">c_noise(σ) per sample, [B] (float32).</param>
    /// <param name="conditioning">The conditioning streams.</param>
    Tensor Forward(Tensor xIn, Tensor sigma, Tensor cNoise, ConditioningInputs conditioning);
}
