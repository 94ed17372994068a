using EDiffI.Plugins.T5;

namespace EDiffI.Tools.T5Training;

/// <summary>
/// T5's span-corruption objective (Raffel et al. 2020 §3.1.4; random_spans_noise_mask of the T5
/// code): of n tokens, round(n·density) are noise, in round(noise / mean span length) spans; spans of
/// noise and non-noise alternate, starting with non-noise, their lengths a random partition. The input
/// keeps the non-noise tokens with each noise span replaced by the next sentinel; the target is each
/// sentinel followed by the span it replaced; both end with &lt;/s&gt;.
/// </summary>
internal static class SpanCorruption
{
    public static (int[] Input, int[] Target) Corrupt(IReadOnlyList<int> tokens, T5Tokenizer tokenizer, Random rng,
        double noiseDensity = 0.15, double meanSpanLength = 3.0)
    {
        int n = tokens.Count;
        var noise = NoiseMask(n, rng, noiseDensity, meanSpanLength);
        var input = new List<int>();
        var target = new List<int>();
        int sentinel = 0;
        for (int i = 0; i < n; i++)
        {
            if (!noise[i]) { input.Add(tokens[i]); continue; }
            if (i == 0 || !noise[i - 1])
            {
                int id = tokenizer.SentinelId(Math.Min(sentinel++, T5Tokenizer.SentinelCount - 1));
                input.Add(id);
                target.Add(id);
            }
            target.Add(tokens[i]);
        }
        input.Add(tokenizer.EosId);
        target.Add(tokenizer.EosId);
        return (input.ToArray(), target.ToArray());
    }

    /// <summary>Which of <paramref name="length"/> tokens are noise.</summary>
    public static bool[] NoiseMask(int length, Random rng, double noiseDensity, double meanSpanLength)
    {
        var mask = new bool[length];
        if (length < 2) return mask;
        int noise = Math.Clamp((int)Math.Round(length * noiseDensity), 1, length - 1);
        int spans = Math.Max(1, (int)Math.Round(noise / meanSpanLength));
        int nonNoise = length - noise;
        spans = Math.Min(spans, Math.Min(noise, nonNoise));
        var noiseLengths = Partition(noise, spans, rng);
        var keepLengths = Partition(nonNoise, spans, rng);
        int at = 0;
        for (int s = 0; s < spans; s++)
        {
            at += keepLengths[s];
            for (int k = 0; k < noiseLengths[s]; k++) mask[at++] = true;
        }
        return mask;
    }

    // n items into `parts` non-empty segments, uniformly over the cut points.
    private static int[] Partition(int n, int parts, Random rng)
    {
        var cuts = Enumerable.Range(1, n - 1).OrderBy(_ => rng.Next()).Take(parts - 1).Order().ToList();
        cuts.Insert(0, 0);
        cuts.Add(n);
        return Enumerable.Range(0, parts).Select(i => cuts[i + 1] - cuts[i]).ToArray();
    }
}
