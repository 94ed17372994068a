using EDiffI.Conditioning;
using EDiffI.Denoising;
using EDiffI.Networks;
using static TorchSharp.torch;

namespace EDiffI.Diffusion;

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

    // σ_data defaults to the images' 0.5; a stage that learns a smaller signal (a super-resolution stage's detail over
    // its upsampled input) passes its own, so the network's input and target keep unit variance at every σ.

    /// <summary>c_skip(σ) = σ_data² / (σ² + σ_data²).</summary>
    public static Tensor CSkip(Tensor sigma, double sigmaData = SigmaData) => sigmaData * sigmaData / (sigma.square() + sigmaData * sigmaData);

    /// <summary>c_out(σ) = σ · σ_data / √(σ² + σ_data²).</summary>
    public static Tensor COut(Tensor sigma, double sigmaData = SigmaData) => sigma * sigmaData / (sigma.square() + sigmaData * sigmaData).sqrt();

    /// <summary>c_in(σ) = 1 / √(σ² + σ_data²).</summary>
    public static Tensor CIn(Tensor sigma, double sigmaData = SigmaData) => (sigma.square() + sigmaData * sigmaData).rsqrt();

    /// <summary>c_noise(σ) = ¼ ln σ.</summary>
    public static Tensor CNoise(Tensor sigma) => sigma.log() / 4;

    // ---- Training (Table 1, "Training") ----

    /// <summary>λ(σ) = (σ² + σ_data²) / (σ · σ_data)², the loss weight; λ · c_out² = 1.</summary>
    public static Tensor LossWeight(Tensor sigma, double sigmaData = SigmaData) =>
        (sigma.square() + sigmaData * sigmaData) / (sigma * sigmaData).square();

    /// <summary>Training noise levels: ln σ ~ N(P_mean, P_std²), one per sample.</summary>
    public static Tensor SampleTrainingSigma(long batch, double pMean, double pStd, Generator? generator, Device device) =>
        (randn(batch, dtype: ScalarType.Float32, generator: generator) * pStd + pMean).exp().to(device);

    /// <summary>
    /// The EDM loss of Eq. 2 with the weight of Table 1, per sample: λ(σ) ‖D(y + n; σ) − y‖², n ~ N(0, σ² I),
    /// averaged over pixels. <paramref name="sigmaData"/> is the one <paramref name="denoiser"/> is preconditioned with.
    /// </summary>
    public static Tensor TrainingLoss(IDenoiser denoiser, Tensor y, Tensor sigma, Tensor unitNoise, ConditioningInputs conditioning,
        double sigmaData = SigmaData)
    {
        var s = sigma.view(-1, 1, 1, 1);
        // Sums over whole batches pass a held alpha (HeldScalars: a temporary Scalar can be collected while libtorch reads it).
        var denoised = denoiser.Denoise(y.Plus(unitNoise * s), sigma, conditioning);
        return (LossWeight(s, sigmaData) * denoised.add(y, HeldScalars.Of(-1)).square()).mean([1, 2, 3]);
    }

    // ---- eDiff-I, Section 4.1 and Appendix B: the noise-level tree of the expert ensemble ----
    // A node at level l with index i owns the i-th of 2^l intervals of equal probability under the
    // training distribution p(σ): ln σ ~ N(P_mean, P_std²). Intervals are handled as quantile ranges
    // [q_lo, q_hi) of that distribution; σ = exp(P_mean + P_std Φ⁻¹(q)).

    /// <summary>The σ at quantile <paramref name="q"/> of p(σ): exp(P_mean + P_std Φ⁻¹(q)); 0 at q = 0, ∞ at q = 1.</summary>
    public static double SigmaAtQuantile(double q, double pMean, double pStd)
    {
        if (!(q >= 0 && q <= 1)) throw new ArgumentOutOfRangeException(nameof(q), q, "a quantile lies in [0, 1]");
        if (q == 0) return 0;
        if (q == 1) return double.PositiveInfinity;
        using var t = tensor(q, ScalarType.Float64);
        using var z = special.ndtri(t);
        return Math.Exp(pMean + pStd * z.item<double>());
    }

    /// <summary>The quantile of σ under p(σ): Φ((ln σ − P_mean) / P_std).</summary>
    public static double QuantileOfSigma(double sigma, double pMean, double pStd)
    {
        if (sigma <= 0) return 0;
        if (double.IsPositiveInfinity(sigma)) return 1;
        using var t = tensor((Math.Log(sigma) - pMean) / pStd, ScalarType.Float64);
        using var p = special.ndtr(t);
        return p.item<double>();
    }

    /// <summary>The quantile range [i / 2^l, (i + 1) / 2^l) of node (level l, index i) of the tree.</summary>
    public static (double Low, double High) TreeInterval(int level, int index)
    {
        if (level < 0 || level > 30) throw new ArgumentOutOfRangeException(nameof(level), level, "levels run from 0 to 30");
        long count = 1L << level;
        if (index < 0 || index >= count) throw new ArgumentOutOfRangeException(nameof(index), index, $"level {level} has indices 0 to {count - 1}");
        return (index / (double)count, (index + 1) / (double)count);
    }

    /// <summary>
    /// Training noise levels of one expert: σ drawn from p(σ) truncated to a union of disjoint quantile
    /// ranges (a node's interval, or its complement "every noise level except this node"). A uniform
    /// draw over the ranges' total mass is mapped through the inverse CDF, so the mass inside each range
    /// follows p(σ) exactly.
    /// </summary>
    public static Tensor SampleTrainingSigma(long batch, IReadOnlyList<(double Low, double High)> quantiles,
        double pMean, double pStd, Generator? generator, Device device)
    {
        if (quantiles.Count == 0) throw new ArgumentException("at least one quantile range is needed", nameof(quantiles));
        double total = quantiles.Sum(r => r.High - r.Low);
        if (!(total > 0) || quantiles.Any(r => !(r.Low >= 0 && r.High <= 1 && r.Low < r.High)))
            throw new ArgumentException("quantile ranges must be non-empty and lie in [0, 1]", nameof(quantiles));
        using var scope = NewDisposeScope();
        // Uniform over [0, total), then walk the ranges: v below the first range's width lands in it, and so on.
        var v = rand(batch, dtype: ScalarType.Float64, generator: generator) * total;
        var q = zeros_like(v);
        double offset = 0;
        var ordered = quantiles.OrderBy(r => r.Low).ToList();
        foreach (var (low, high) in ordered)
        {
            double width = high - low;
            bool last = (low, high) == ordered[^1];
            var inRange = last ? v >= offset : (v >= offset).logical_and(v < offset + width);
            q = where(inRange, v - offset + low, q);
            offset += width;
        }
        // Keep away from q = 0 and 1, where σ would be 0 or ∞.
        q = q.clamp(1e-12, 1 - 1e-12);
        return (special.ndtri(q) * pStd + pMean).exp().to(ScalarType.Float32).to(device).MoveToOuterDisposeScope();
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
