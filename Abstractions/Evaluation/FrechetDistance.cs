using static TorchSharp.torch;

namespace EDiffI.Evaluation;

/// <summary>
/// The Fréchet distance of FID (Heusel et al. 2017) between Gaussians fitted to two feature sets; evaluations
/// feed it a judge's features of generated and of real images.
/// </summary>
public static class FrechetDistance
{
    /// <summary>
    /// ‖μ₁ − μ₂‖² + Tr(Σ₁ + Σ₂ − 2 (Σ₁^½ Σ₂ Σ₁^½)^½) between feature sets [N, D] and [M, D], in float64.
    /// </summary>
    public static double Between(Tensor a, Tensor b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        using var scope = NewDisposeScope();
        var x = a.to(ScalarType.Float64);
        var y = b.to(ScalarType.Float64);
        var mu1 = x.mean([0]);
        var mu2 = y.mean([0]);
        var s1 = Covariance(x);
        var s2 = Covariance(y);
        var root1 = SymmetricSqrt(s1);
        var middle = SymmetricSqrt(root1.matmul(s2).matmul(root1));
        double trace = (s1.trace() + s2.trace() - 2 * middle.trace()).item<double>();
        return (mu1 - mu2).square().sum().item<double>() + trace;
    }

    private static Tensor Covariance(Tensor x)
    {
        var centred = x - x.mean([0], keepdim: true);
        return centred.T.matmul(centred) / (x.shape[0] - 1);
    }

    // Square root of a symmetric positive semi-definite matrix through its eigendecomposition.
    private static Tensor SymmetricSqrt(Tensor m)
    {
        var symmetric = (m + m.T) / 2;
        var (values, vectors) = linalg.eigh(symmetric);
        return vectors.matmul(diag(values.clamp_min(0).sqrt())).matmul(vectors.T);
    }
}
