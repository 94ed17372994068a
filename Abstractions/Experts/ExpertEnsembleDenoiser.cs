using EDiffI.Conditioning;
using EDiffI.Denoising;
using static TorchSharp.torch;

namespace EDiffI.Experts;

/// <summary>
/// An ensemble of expert denoisers as one denoiser: each sample of a batch goes to the expert the
/// router picks for its own σ, so each of Heun's two evaluations is routed by its own σ.
/// </summary>
public sealed class ExpertEnsembleDenoiser(IReadOnlyList<IDenoiser> experts, IExpertRouter router, IExpertPlacement? placement = null) : IDenoiser
{
    /// <summary>The experts, in the router's order.</summary>
    public IReadOnlyList<IDenoiser> Experts => experts;

    /// <inheritdoc />
    /// <remarks>One σ known on the host (what samplers pass): routed without reading anything back from the device.</remarks>
    public Tensor Denoise(Tensor x, double sigma, ConditioningInputs conditioning)
    {
        CheckCount();
        int expert = router.Route(sigma);
        if (expert < 0 || expert >= experts.Count)
            throw new InvalidOperationException($"the router chose expert {expert} of {experts.Count}");
        placement?.Activate(expert);
        return experts[expert].Denoise(x, sigma, conditioning);
    }

    private void CheckCount()
    {
        if (router.ExpertCount != experts.Count)
            throw new InvalidOperationException($"router expects {router.ExpertCount} experts, ensemble has {experts.Count}");
    }

    /// <inheritdoc />
    /// <remarks>σ per sample (training, or a sampler with per-sample levels): read back once, then each expert takes its samples.</remarks>
    public Tensor Denoise(Tensor x, Tensor sigma, ConditioningInputs conditioning)
    {
        CheckCount();
        int[] route;
        using (var read = NewDisposeScope())
            route = sigma.to(ScalarType.Float64).cpu().data<double>().ToArray().Select(router.Route).ToArray();
        if (route.Any(r => r < 0 || r >= experts.Count))
            throw new InvalidOperationException($"the router chose expert {route.First(r => r < 0 || r >= experts.Count)} of {experts.Count}");
        if (route.All(r => r == route[0]))
        {
            placement?.Activate(route[0]);
            return experts[route[0]].Denoise(x, sigma, conditioning);
        }
        // Mixed σ in one batch: each expert denoises its own samples in one call, results go back in place.
        using var scope = NewDisposeScope();
        var output = empty_like(x);
        foreach (int expert in route.Distinct())
        {
            placement?.Activate(expert);
            var rows = tensor(Enumerable.Range(0, route.Length).Where(i => route[i] == expert).Select(i => (long)i).ToArray(), device: x.device);
            var part = experts[expert].Denoise(x.index_select(0, rows), sigma.index_select(0, rows), conditioning.SelectRows(rows));
            output.index_copy_(0, rows, part);
        }
        return output.MoveToOuterDisposeScope();
    }
}
