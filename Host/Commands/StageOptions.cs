using System.Globalization;
using EDiffI.Host.Pipeline;
using EDiffI.Host.Runtime;

namespace EDiffI.Host.Commands;

/// <summary>
/// The per-stage options of <c>generate</c> (<c>--stage-steps</c>, <c>--stage-guidance</c>, <c>--sigma-aug</c>, <c>--stage-sigma-max</c>):
/// <c>sr256=12,sr1024=6</c>, or one number for every stage ("*"). The service checks names and ranges.
/// </summary>
internal static class StageOptions
{
    /// <summary>The name under which a bare number applies to every stage.</summary>
    public const string Every = GenerationService.EveryStage;

    /// <summary>Stage settings by stage name from the four options (null or empty: none given).</summary>
    public static IReadOnlyDictionary<string, StageSettings> Parse(string? steps, string? guidance, string? sigmaAug, string? sigmaMax = null)
    {
        var map = new Dictionary<string, StageSettings>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, value) in Pairs(steps, "--stage-steps"))
        {
            if (!int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out int n))
                throw new UserException($"--stage-steps: '{value}' is not a whole number of steps.");
            map[name] = (map.GetValueOrDefault(name) ?? new StageSettings()) with { Steps = n };
        }
        foreach (var (name, value) in Pairs(guidance, "--stage-guidance"))
            map[name] = (map.GetValueOrDefault(name) ?? new StageSettings()) with { Guidance = Number(value, "--stage-guidance") };
        foreach (var (name, value) in Pairs(sigmaAug, "--sigma-aug"))
            map[name] = (map.GetValueOrDefault(name) ?? new StageSettings()) with { AugmentationSigma = Number(value, "--sigma-aug") };
        foreach (var (name, value) in Pairs(sigmaMax, "--stage-sigma-max"))
            map[name] = (map.GetValueOrDefault(name) ?? new StageSettings()) with { SigmaMax = Number(value, "--stage-sigma-max") };
        return map;
    }

    private static double Number(string value, string option) =>
        double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out double x)
            ? x : throw new UserException($"{option}: '{value}' is not a number.");

    private static IEnumerable<(string Name, string Value)> Pairs(string? text, string option)
    {
        if (string.IsNullOrWhiteSpace(text)) yield break;
        foreach (string part in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            int eq = part.IndexOf('=', StringComparison.Ordinal);
            if (eq < 0) yield return (Every, part);
            else if (eq == 0) throw new UserException($"{option} expects STAGE=VALUE or a number (got '{part}').");
            else yield return (part[..eq].Trim(), part[(eq + 1)..].Trim());
        }
    }
}
