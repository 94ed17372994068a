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
