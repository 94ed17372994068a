using EDiffI.Conditioning;
using EDiffI.Denoising;
using static TorchSharp.torch;

namespace EDiffI.Experts;

/// <summary>An expert's share of the noise levels: it serves σ with Low ≤ σ &lt; High.</summary>
public sealed record SigmaInterval(double Low, double High)
{
    /// <summary>True when σ falls in [Low, High).</summary>
    public bool Contains(double sigma) => sigma >= Low && sigma < High;
}

/// <summary>
/// Chooses which expert of an ensemble (eDiff-I, Section 4.1) denoises at a given σ.
/// </summary>
public interface IExpertRouter
{
    /// <summary>Number of experts the router chooses among.</summary>
    int ExpertCount { get; }

    /// <summary>Index of the expert that serves noise level <paramref name="sigma"/>.</summary>
    int Route(double sigma);
}

/// <summary>
/// An ensemble of expert denoisers as one denoiser: each sample of a batch goes to the expert the
/// router picks for its own σ, so each of Heun's two evaluations is routed by its own σ.
/// </summary>
public sealed class ExpertEnsembleDenoiser(IReadOnlyList<IDenoiser> experts, IExpertRouter router) : IDenoiser
{
    /// <inheritdoc />
    public Tensor Denoise(Tensor x, Tensor sigma, ConditioningInputs conditioning)
    {
        if (router.ExpertCount != experts.Count)
            throw new InvalidOperationException($"router expects {router.ExpertCount} experts, ensemble has {experts.Count}");
        int[] route;
        using (var read = NewDisposeScope())
            route = sigma.to(ScalarType.Float64).cpu().data<double>().ToArray().Select(router.Route).ToArray();
        if (route.Any(r => r < 0 || r >= experts.Count))
            throw new InvalidOperationException($"the router chose expert {route.First(r => r < 0 || r >= experts.Count)} of {experts.Count}");
        if (route.All(r => r == route[0])) return experts[route[0]].Denoise(x, sigma, conditioning);
        // Mixed σ in one batch: each expert denoises its own samples in one call, results go back in place.
        using var scope = NewDisposeScope();
        var output = empty_like(x);
        foreach (int expert in route.Distinct())
        {
            var rows = tensor(Enumerable.Range(0, route.Length).Where(i => route[i] == expert).Select(i => (long)i).ToArray(), device: x.device);
            var part = experts[expert].Denoise(x.index_select(0, rows), sigma.index_select(0, rows), conditioning.SelectRows(rows));
            output.index_copy_(0, rows, part);
        }
        return output.MoveToOuterDisposeScope();
    }
}
