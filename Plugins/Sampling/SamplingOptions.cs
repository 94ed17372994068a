namespace EDiffI.Plugins.Sampling;

/// <summary>
/// Options of the sampling plugin, bound to the "Sampling" configuration section ("Sampling:Heun:SChurn").
/// The section's "Sampler" and "Schedule" keys are the host's defaults and are not read here.
/// </summary>
public sealed class SamplingOptions
{
    /// <summary>The Heun sampler's options (Karras et al. 2022, Algorithm 2, Table 5).</summary>
    public HeunSamplerOptions Heun { get; set; } = new();
}
