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
        var sigmas = sigma.to(ScalarType.Float64).cpu().data<double>().ToArray();
        int first = router.Route(sigmas[0]);
        if (sigmas.All(s => router.Route(s) == first)) return experts[first].Denoise(x, sigma, conditioning);
        // Mixed σ in one batch: denoise each sample with its own expert.
        using var scope = NewDisposeScope();
        var outputs = new Tensor[sigmas.Length];
        for (int i = 0; i < sigmas.Length; i++)
        {
            var xi = x.narrow(0, i, 1);
            outputs[i] = experts[router.Route(sigmas[i])].Denoise(xi, sigma.narrow(0, i, 1), Slice(conditioning, i));
        }
        return cat(outputs, 0).MoveToOuterDisposeScope();
    }

    private static ConditioningInputs Slice(ConditioningInputs c, long i)
    {
        TextEmbedding? S(TextEmbedding? t) => t is null ? null : new(t.Tokens.narrow(0, i, 1), t.Mask.narrow(0, i, 1), t.Pooled?.narrow(0, i, 1));
        return c with { T5Text = S(c.T5Text), ClipText = S(c.ClipText), ClipImage = c.ClipImage?.narrow(0, i, 1) };
    }
}
