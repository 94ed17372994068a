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

/// <summary>Builds routers of one kind from an ensemble's manifest; plugins register one per kind.</summary>
public interface IExpertRouterFactory
{
    /// <summary>The kind model manifests name ("sigma-interval").</summary>
    string Kind { get; }

    /// <summary>A router over the experts of <paramref name="ensemble"/>, in its order.</summary>
    /// <exception cref="InvalidDataException">When the experts' ranges do not partition the noise levels.</exception>
    IExpertRouter Create(ExpertEnsembleSpec ensemble);
}

/// <summary>
/// Where the experts' weights live between evaluations. Resident placement (the default) does nothing;
/// a low-memory placement keeps inactive experts in host memory and moves one to the device when it is needed.
/// </summary>
public interface IExpertPlacement
{
    /// <summary>Called before expert <paramref name="expert"/> denoises.</summary>
    void Activate(int expert);
}

/// <summary>Makes the placement of a mode ("resident", "low-memory") for an ensemble's expert modules.</summary>
public interface IExpertPlacementFactory
{
    /// <summary>The modes it knows.</summary>
    IReadOnlyList<string> Modes { get; }

    /// <summary>A placement of <paramref name="experts"/> that runs the active one on <paramref name="device"/>.</summary>
    /// <exception cref="ArgumentException">For an unknown mode.</exception>
    IExpertPlacement Create(string mode, IReadOnlyList<nn.Module> experts, Device device);
}

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
