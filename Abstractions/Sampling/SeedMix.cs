namespace EDiffI.Sampling;

/// <summary>
/// SplitMix64 (Steele et al. 2014): well-spread 64-bit values from a seed and a stream index, so neighbouring indices
/// (chunks of a data stream, evaluations of a sampler) get unrelated random numbers. The one place the mixer lives.
/// </summary>
public static class SeedMix
{
    /// <summary>SplitMix64 of the <paramref name="index"/>-th step from <paramref name="seed"/>.</summary>
    public static ulong Of(long seed, ulong index) => Mix(unchecked((ulong)seed * 0x9E3779B97F4A7C15UL + index));

    /// <summary>SplitMix64's finaliser: every bit of the output depends on every bit of <paramref name="z"/>.</summary>
    public static ulong Mix(ulong z)
    {
        z = unchecked((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL);
        z = unchecked((z ^ (z >> 27)) * 0x94D049BB133111EBUL);
        return z ^ (z >> 31);
    }
}
