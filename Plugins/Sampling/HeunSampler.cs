using EDiffI.Denoising;
using EDiffI.Sampling;
using Microsoft.Extensions.Options;
using static TorchSharp.torch;

namespace EDiffI.Plugins.Sampling;

/// <summary>Options of the EDM stochastic sampler (Karras et al. 2022, Algorithm 2, Table 5).</summary>
public sealed class HeunSamplerOptions
{
    /// <summary>S_churn: overall amount of stochasticity; 0 gives the deterministic sampler (Algorithm 1).</summary>
    public double SChurn { get; set; }

    /// <summary>S_tmin: lowest σ at which noise is added back.</summary>
    public double STmin { get; set; }

    /// <summary>S_tmax: highest σ at which noise is added back.</summary>
    public double STmax { get; set; } = double.PositiveInfinity;

    /// <summary>S_noise: standard deviation of the added noise, slightly above 1 to offset detail loss.</summary>
    public double SNoise { get; set; } = 1;
}

/// <summary>
/// The EDM Heun sampler (Karras et al. 2022, Algorithm 2): a second-order step with an Euler step
/// to σ = 0 at the end, so N steps cost 2N − 1 evaluations. Integrates in float64.
/// </summary>
public sealed class HeunSampler(IOptions<HeunSamplerOptions> options) : ISampler
{
    private readonly HeunSamplerOptions _o = options.Value;

    /// <summary>A deterministic Heun sampler (S_churn = 0).</summary>
    public HeunSampler() : this(Options.Create(new HeunSamplerOptions())) { }

    /// <inheritdoc />
    public string Name => "heun";

    /// <inheritdoc />
    public int Evaluations(int steps) => 2 * steps - 1;

    /// <inheritdoc />
    public Tensor Sample(IDenoiser denoiser, SamplingRequest request)
    {
        var t = request.Sigmas;
        int n = t.Count - 1;
        var ct = request.CancellationToken;
        var xNext = Start(request.Noise, t[0]);
        for (int i = 0; i < n; i++)
        {
            using var scope = NewDisposeScope();
            var xCur = xNext;
            double tCur = t[i], tNext = t[i + 1];

            // Increase noise temporarily.
            double gamma = _o.STmin <= tCur && tCur <= _o.STmax ? Math.Min(_o.SChurn / n, Math.Sqrt(2) - 1) : 0;
            double tHat = tCur + gamma * tCur;
            var xHat = gamma > 0
                ? xCur + Math.Sqrt(tHat * tHat - tCur * tCur) * _o.SNoise * randn(xCur.shape, ScalarType.Float64, generator: request.Generator).to(xCur.device)
                : xCur.alias();

            // Euler step.
            ct.ThrowIfCancellationRequested();
            var denoised = denoiser.Denoise(xHat, tHat, request.Conditioning);
            var dCur = (xHat - denoised) / tHat;
            var next = xHat + (tNext - tHat) * dCur;

            // Apply 2nd order correction.
            if (i < n - 1)
            {
                ct.ThrowIfCancellationRequested();
                var denoisedNext = denoiser.Denoise(next, tNext, request.Conditioning);
                var dPrime = (next - denoisedNext) / tNext;
                next = xHat + (tNext - tHat) * (0.5 * dCur + 0.5 * dPrime);
            }

            request.Callback?.Invoke(new SamplerStep(i, n, tHat, xHat, denoised));
            xNext = next.DetachFromDisposeScope();
            xCur.Dispose();
        }
        return xNext;
    }

    /// <summary>x_0 = σ_0 · noise, in float64, owned by the caller.</summary>
    internal static Tensor Start(Tensor noise, double sigma0)
    {
        using var scope = NewDisposeScope();
        return (noise.to(ScalarType.Float64) * sigma0).DetachFromDisposeScope();
    }
}
