using EDiffI.Conditioning;
using EDiffI.Denoising;
using static TorchSharp.torch;

namespace EDiffI.Tests;

/// <summary>
/// The ideal denoiser of an isotropic Gaussian mixture, in closed form. For data y ~ Σ π_k N(μ_k, s_k² I)
/// and x = y + σ n, the posterior mean is E[y | x] = Σ_k w_k(x) (μ_k + s_k² / (s_k² + σ²) (x − μ_k)),
/// with w_k(x) ∝ π_k N(x; μ_k, (s_k² + σ²) I).
/// </summary>
internal sealed class GaussianMixtureDenoiser(double[] weights, double[][] means, double[] stds) : IDenoiser
{
    public int Evaluations { get; private set; }

    public double[] Weights => weights;
    public double[][] Means => means;
    public double[] Stds => stds;

    public Tensor Denoise(Tensor x, Tensor sigma, ConditioningInputs conditioning)
    {
        Evaluations++;
        using var scope = NewDisposeScope();
        long b = x.shape[0];
        var flat = x.reshape(b, -1);                               // [B, D]
        long d = flat.shape[1];
        var s2 = sigma.to(ScalarType.Float64).view(-1, 1).square(); // [B, 1]
        var mu = tensor(means.SelectMany(m => m).ToArray(), [means.Length, d]).to(x.device); // [K, D]
        var v = tensor(stds.Select(s => s * s).ToArray()).to(x.device).view(1, -1) + s2;      // [B, K]
        var diff = flat.unsqueeze(1) - mu.unsqueeze(0);           // [B, K, D]
        var logp = tensor(weights).to(x.device).log().view(1, -1)
                   - 0.5 * diff.square().sum(2) / v - 0.5 * d * v.log();
        var w = logp.softmax(1);                                   // [B, K]
        var shrink = tensor(stds.Select(s => s * s).ToArray()).to(x.device).view(1, -1) / v;  // [B, K]
        var perComponent = mu.unsqueeze(0) + shrink.unsqueeze(2) * diff;                      // [B, K, D]
        var mean = (w.unsqueeze(2) * perComponent).sum(1);
        return mean.reshape(x.shape).MoveToOuterDisposeScope();
    }
}
