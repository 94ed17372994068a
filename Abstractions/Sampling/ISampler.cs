using EDiffI.Conditioning;
using EDiffI.Denoising;
using static TorchSharp.torch;

namespace EDiffI.Sampling;

/// <summary>
/// One fixed record per sampler step, handed to the step callback (and mapped one-to-one onto the
/// progress message of the engine bridge). The tensors are only valid during the callback.
/// </summary>
/// <param name="Index">Step index, 0-based.</param>
/// <param name="Count">Number of steps of the run.</param>
/// <param name="Sigma">Noise level σ_i the step started from.</param>
/// <param name="X">The current sample x_i.</param>
/// <param name="Denoised">The denoiser's clean-image estimate D(x_i; σ_i).</param>
public readonly record struct SamplerStep(int Index, int Count, double Sigma, Tensor X, Tensor Denoised);

/// <summary>Called once per sampler step, on the sampling thread.</summary>
public delegate void SamplerCallback(in SamplerStep step);

/// <summary>What one sampling run needs besides the denoiser.</summary>
/// <param name="Noise">Unit-variance Gaussian noise, [B, C, H, W]; the sampler scales it by σ_0.</param>
/// <param name="Sigmas">The σ schedule, decreasing, its last value 0 (see <see cref="ISigmaSchedule"/>).</param>
/// <param name="Conditioning">Conditioning for the batch.</param>
/// <param name="Generator">Source of any fresh noise a stochastic sampler draws; null for the global one.</param>
/// <param name="Callback">Step callback, or null.</param>
/// <param name="CancellationToken">Checked before every denoiser evaluation.</param>
public sealed record SamplingRequest(
    Tensor Noise,
    IReadOnlyList<double> Sigmas,
    ConditioningInputs Conditioning,
    Generator? Generator = null,
    SamplerCallback? Callback = null,
    CancellationToken CancellationToken = default);

/// <summary>
/// Solves the probability-flow ODE (or SDE) from σ_0 to 0 with a denoiser, in the manner of
/// k-diffusion: the sampler only ever calls <see cref="IDenoiser.Denoise(Tensor, double, ConditioningInputs)"/> (one σ for the batch) and never knows the
/// network or the preconditioning. Samplers integrate in float64 and return float64.
/// </summary>
public interface ISampler
{
    /// <summary>The name users select the sampler by (for example "heun").</summary>
    string Name { get; }

    /// <summary>Denoiser evaluations a run of <paramref name="steps"/> steps costs.</summary>
    int Evaluations(int steps);

    /// <summary>Runs the sampler; returns the final sample x_N (float64, device of the noise).</summary>
    /// <exception cref="OperationCanceledException">When the request's token is cancelled between evaluations.</exception>
    Tensor Sample(IDenoiser denoiser, SamplingRequest request);
}
