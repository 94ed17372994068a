using EDiffI.Diffusion;

namespace EDiffI.Sampling;

/// <summary>Options of the Karras ρ-schedule (Karras et al. 2022, Eq. 5 and Table 1).</summary>
public sealed class KarrasScheduleOptions
{
    /// <summary>Smallest noise level σ_min before the final step to 0.</summary>
    public double SigmaMin { get; set; } = 0.002;

    /// <summary>Largest noise level σ_max, where sampling starts.</summary>
    public double SigmaMax { get; set; } = 80;

    /// <summary>ρ: how strongly steps concentrate at low σ.</summary>
    public double Rho { get; set; } = 7;
}

/// <summary>The Karras ρ-schedule; the formula is <see cref="Edm.KarrasSigmas"/>.</summary>
public sealed class KarrasSchedule(KarrasScheduleOptions options) : ISigmaSchedule
{
    /// <summary>A schedule with the paper's defaults.</summary>
    public KarrasSchedule() : this(new KarrasScheduleOptions()) { }

    /// <inheritdoc />
    public string Name => "karras";

    /// <inheritdoc />
    public double[] Sigmas(int steps) => Edm.KarrasSigmas(steps, options.SigmaMin, options.SigmaMax, options.Rho);

    /// <inheritdoc />
    public double[] Sigmas(int steps, double sigmaMax) => Edm.KarrasSigmas(steps, options.SigmaMin, sigmaMax, options.Rho);
}
