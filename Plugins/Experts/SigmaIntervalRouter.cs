using EDiffI.Experts;

namespace EDiffI.Plugins.Experts;

/// <summary>
/// Routes σ to the expert whose interval holds it (eDiff-I, Section 4.1). The experts' intervals come
/// from quantile ranges of p(σ) and must partition (0, ∞): every σ has exactly one expert. An interval
/// is closed below and open above, so a σ on a boundary goes to the noisier expert's neighbour above it.
/// </summary>
public sealed class SigmaIntervalRouter : IExpertRouter
{
    private readonly double[] _lows;
    private readonly int[] _experts;

    /// <summary>Builds the router of <paramref name="ensemble"/>.</summary>
    /// <exception cref="InvalidDataException">When the experts' ranges leave a gap or overlap.</exception>
    public SigmaIntervalRouter(ExpertEnsembleSpec ensemble)
    {
        if (ensemble.Experts.Count == 0) throw new InvalidDataException("The ensemble has no experts.");
        var problem = ExpertEnsembleSpec.PartitionProblem(ensemble.Experts.Select(e => (IReadOnlyList<QuantileRange>)e.Quantiles).ToList());
        if (problem is not null) throw new InvalidDataException($"The ensemble's experts do not cover the noise levels exactly: {problem}.");
        var intervals = ensemble.SigmaIntervals()
            .SelectMany((list, expert) => list.Select(i => (i.Low, Expert: expert)))
            .OrderBy(i => i.Low).ToList();
        _lows = intervals.Select(i => i.Low).ToArray();
        _experts = intervals.Select(i => i.Expert).ToArray();
        ExpertCount = ensemble.Experts.Count;
        Intervals = ensemble.SigmaIntervals();
    }

    /// <inheritdoc />
    public int ExpertCount { get; }

    /// <summary>The σ intervals of each expert.</summary>
    public IReadOnlyList<IReadOnlyList<SigmaInterval>> Intervals { get; }

    /// <inheritdoc />
    public int Route(double sigma)
    {
        if (double.IsNaN(sigma)) throw new ArgumentException("σ is NaN", nameof(sigma));
        // The last interval whose lower end is at or below σ.
        int i = Array.BinarySearch(_lows, sigma);
        if (i < 0) i = ~i - 1;
        return _experts[Math.Max(0, i)];
    }
}

/// <summary>Builds <see cref="SigmaIntervalRouter"/>s ("sigma-interval").</summary>
public sealed class SigmaIntervalRouterFactory : IExpertRouterFactory
{
    /// <inheritdoc />
    public string Kind => "sigma-interval";

    /// <inheritdoc />
    public IExpertRouter Create(ExpertEnsembleSpec ensemble) => new SigmaIntervalRouter(ensemble);
}
