using EDiffI.Host.Runtime;
using EDiffI.Sampling;

namespace EDiffI.Host.Pipeline;

/// <summary>The one lookup of samplers and σ schedules by name, with the message a user sees for an unknown name.</summary>
public static class SamplerLookup
{
    /// <summary>The sampler named <paramref name="name"/> (case-insensitive), or null.</summary>
    public static ISampler? Find(IEnumerable<ISampler> samplers, string name) =>
        samplers.FirstOrDefault(s => string.Equals(s.Name, name, StringComparison.OrdinalIgnoreCase));

    /// <summary>The σ schedule named <paramref name="name"/> (case-insensitive), or null.</summary>
    public static ISigmaSchedule? Find(IEnumerable<ISigmaSchedule> schedules, string name) =>
        schedules.FirstOrDefault(s => string.Equals(s.Name, name, StringComparison.OrdinalIgnoreCase));

    /// <summary>The sampler named <paramref name="name"/>; throws a <see cref="UserException"/> listing the known ones.</summary>
    public static ISampler Require(IEnumerable<ISampler> samplers, string name) =>
        Find(samplers, name) ?? throw new UserException(UnknownSampler(samplers, name));

    /// <summary>The message for an unknown sampler.</summary>
    public static string UnknownSampler(IEnumerable<ISampler> samplers, string name) =>
        $"Unknown sampler '{name}' (available: {Names(samplers.Select(s => s.Name))}; `plugins` lists what each plugin provides).";

    /// <summary>The message for an unknown σ schedule.</summary>
    public static string UnknownSchedule(IEnumerable<ISigmaSchedule> schedules, string name) =>
        $"Unknown σ schedule '{name}' (available: {Names(schedules.Select(s => s.Name))}).";

    private static string Names(IEnumerable<string> names) => names.Any() ? string.Join(", ", names) : "none";
}
