namespace EDiffI.Experts;

/// <summary>One expert of a saved ensemble: its folder (network files) and the quantile ranges it serves.</summary>
public sealed record ExpertEntry
{
    /// <summary>Name (the tree node it came from).</summary>
    public string Name { get; init; } = "";
    /// <summary>Folder of the expert's network, relative to the model folder.</summary>
    public string Folder { get; init; } = "";
    /// <summary>Quantile ranges of p(σ) the expert serves.</summary>
    public List<QuantileRange> Quantiles { get; init; } = [];
}

/// <summary>The experts of an ensemble and the p(σ) their quantile ranges refer to (stored in model.json).</summary>
public sealed record ExpertEnsembleSpec
{
    /// <summary>Router kind a plugin provides ("sigma-interval").</summary>
    public string Router { get; init; } = "sigma-interval";
    /// <summary>P_mean of p(σ).</summary>
    public double PMean { get; init; } = -1.2;
    /// <summary>P_std of p(σ).</summary>
    public double PStd { get; init; } = 1.2;
    /// <summary>The experts.</summary>
    public List<ExpertEntry> Experts { get; init; } = [];

    /// <summary>The σ intervals each expert serves.</summary>
    public IReadOnlyList<IReadOnlyList<SigmaInterval>> SigmaIntervals() =>
        Experts.Select(e => (IReadOnlyList<SigmaInterval>)e.Quantiles.Select(q => q.ToSigma(PMean, PStd)).ToList()).ToList();

    /// <summary>Why the experts' ranges do not partition [0, 1) exactly (gap or overlap), or null when they do.</summary>
    public static string? PartitionProblem(IReadOnlyList<IReadOnlyList<QuantileRange>> experts)
    {
        var all = experts.SelectMany((ranges, i) => ranges.Select(r => (r.Low, r.High, Expert: i))).OrderBy(r => r.Low).ToList();
        double at = 0;
        const double eps = 1e-12;
        foreach (var r in all)
        {
            if (!(r.Low < r.High)) return $"an empty quantile range [{r.Low}, {r.High})";
            if (r.Low > at + eps) return $"no expert serves quantiles [{at:0.####}, {r.Low:0.####})";
            if (r.Low < at - eps) return $"two experts serve quantiles around {r.Low:0.####}";
            at = r.High;
        }
        return at < 1 - eps ? $"no expert serves quantiles [{at:0.####}, 1)" : null;
    }
}
