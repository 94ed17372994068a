using EDiffI.Conditioning;
using EDiffI.Denoising;
using static TorchSharp.torch;

namespace EDiffI.Edm;

/// <summary>
/// Every equation of EDM (Karras et al. 2022, "Elucidating the Design Space of Diffusion-Based
/// Generative Models") that this framework uses, in one place. Samplers live in Plugins/Sampling and
/// call only <see cref="IDenoiser"/>; they take their σ steps from <see cref="KarrasSigmas"/>.
/// </summary>
public static class Edm
{
    /// <summary>σ_data: standard deviation of the training images (Table 1).</summary>
    public const double SigmaData = 0.5;

    // ---- Preconditioning (Table 1, "Network and preconditioning", EDM column) ----

    /// <summary>c_skip(σ) = σ_data² / (σ² + σ_data²).</summary>
    public static Tensor CSkip(Tensor sigma) => SigmaData * SigmaData / (sigma.square() + SigmaData * SigmaData);

    /// <summary>c_out(σ) = σ · σ_data / √(σ² + σ_data²).</summary>
    public static Tensor COut(Tensor sigma) => sigma * SigmaData / (sigma.square() + SigmaData * SigmaData).sqrt();

    /// <summary>c_in(σ) = 1 / √(σ² + σ_data²).</summary>
    public static Tensor CIn(Tensor sigma) => (sigma.square() + SigmaData * SigmaData).rsqrt();

    /// <summary>c_noise(σ) = ¼ ln σ.</summary>
    public static Tensor CNoise(Tensor sigma) => sigma.log() / 4;

    // ---- Training (Table 1, "Training") ----

    /// <summary>λ(σ) = (σ² + σ_data²) / (σ · σ_data)², the loss weight; λ · c_out² = 1.</summary>
    public static Tensor LossWeight(Tensor sigma) =>
        (sigma.square() + SigmaData * SigmaData) / (sigma * SigmaData).square();

    /// <summary>Training noise levels: ln σ ~ N(P_mean, P_std²), one per sample.</summary>
    public static Tensor SampleTrainingSigma(long batch, double pMean, double pStd, Generator? generator, Device device) =>
        (randn(batch, dtype: ScalarType.Float32, generator: generator) * pStd + pMean).exp().to(device);

    /// <summary>
    /// The EDM loss of Eq. 2 with the weight of Table 1, per sample: λ(σ) ‖D(y + n; σ) − y‖², n ~ N(0, σ² I),
    /// averaged over pixels.
    /// </summary>
    public static Tensor TrainingLoss(IDenoiser denoiser, Tensor y, Tensor sigma, Tensor unitNoise, ConditioningInputs conditioning)
    {
        var s = sigma.view(-1, 1, 1, 1);
        var denoised = denoiser.Denoise(y + unitNoise * s, sigma, conditioning);
        return (LossWeight(s) * (denoised - y).square()).mean([1, 2, 3]);
    }

    // ---- Sampling (Eq. 5: the time-step discretisation) ----

    /// <summary>
    /// σ_i = (σ_max^(1/ρ) + i/(N−1) (σ_min^(1/ρ) − σ_max^(1/ρ)))^ρ for i &lt; N, then σ_N = 0.
    /// Returns N + 1 values, decreasing, ending at zero.
    /// </summary>
    public static double[] KarrasSigmas(int steps, double sigmaMin = 0.002, double sigmaMax = 80, double rho = 7)
    {
        if (steps < 1) throw new ArgumentOutOfRangeException(nameof(steps), steps, "at least one step is needed");
        if (!(sigmaMin > 0 && sigmaMax > sigmaMin)) throw new ArgumentException($"need 0 < σ_min < σ_max (got {sigmaMin}, {sigmaMax})");
        var sigmas = new double[steps + 1];
        double maxInvRho = Math.Pow(sigmaMax, 1 / rho), minInvRho = Math.Pow(sigmaMin, 1 / rho);
        for (int i = 0; i < steps; i++)
        {
            double t = steps == 1 ? 0 : (double)i / (steps - 1);
            sigmas[i] = Math.Pow(maxInvRho + t * (minInvRho - maxInvRho), rho);
        }
        sigmas[steps] = 0;
        return sigmas;
    }
}
