using EDiffI.Conditioning;
using EDiffI.Denoising;
using static TorchSharp.torch;

namespace EDiffI.Conformance;

/// <summary>
/// The exact denoiser of data y ~ N(μ, s² I): D(x; σ) = μ + s² / (s² + σ²) (x − μ). Its probability-flow
/// ODE has the closed-form solution x(σ) = μ + (x(σ₀) − μ) √(s² + σ²) / √(s² + σ₀²), which sampler
/// conformance compares against.
/// </summary>
public sealed class GaussianDenoiser(double mean = 0.3, double std = 0.5) : IDenoiser
{
    /// <summary>Evaluations so far.</summary>
    public int Evaluations { get; private set; }

    /// <inheritdoc />
    public Tensor Denoise(Tensor x, Tensor sigma, ConditioningInputs conditioning)
    {
        Evaluations++;
        using var scope = NewDisposeScope();
        var s2 = sigma.to(x.dtype).view(-1, 1, 1, 1).square();
        return (mean + std * std / (std * std + s2) * (x - mean)).MoveToOuterDisposeScope();
    }

    /// <summary>The exact end point x(0) of the ODE started at x(σ₀) = σ₀ · noise.</summary>
    public Tensor ExactSolution(Tensor noise, double sigma0)
    {
        using var scope = NewDisposeScope();
        var x0 = noise.to(ScalarType.Float64) * sigma0;
        return (mean + (x0 - mean) * (std / Math.Sqrt(std * std + sigma0 * sigma0))).MoveToOuterDisposeScope();
    }
}
