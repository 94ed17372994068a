using EDiffI.Sampling;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace EDiffI.Plugins.Sampling;

/// <summary>The plugin's one registration entry point.</summary>
public static class SamplingServiceCollectionExtensions
{
    /// <summary>Adds the EDM Heun and Euler samplers and the Karras schedule.</summary>
    public static IServiceCollection AddEdmSamplers(this IServiceCollection services, Action<HeunSamplerOptions>? configure = null)
    {
        var options = services.AddOptions<HeunSamplerOptions>();
        if (configure is not null) options.Configure(configure);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<ISampler, HeunSampler>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<ISampler, EulerSampler>());
        services.AddOptions<KarrasScheduleOptions>();
        // The schedule lives in the contracts; the plugin registers it because its samplers need one.
        services.TryAddEnumerable(ServiceDescriptor.Singleton<ISigmaSchedule, KarrasSchedule>(
            sp => new KarrasSchedule(sp.GetRequiredService<IOptions<KarrasScheduleOptions>>().Value)));
        return services;
    }
}
