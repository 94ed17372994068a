using EDiffI.Sampling;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace EDiffI.Plugins.Sampling;

/// <summary>Service registration of the sampling plugin.</summary>
public static class SamplingServiceCollectionExtensions
{
    /// <summary>Adds the EDM Heun and Euler samplers and the Karras schedule.</summary>
    /// <param name="services">The services to add to.</param>
    /// <param name="configure">Sets the options (the plugin binds the "Sampling" section here).</param>
    /// <returns><paramref name="services"/>.</returns>
    public static IServiceCollection AddSampling(this IServiceCollection services, Action<SamplingOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = services.AddOptions<SamplingOptions>();
        if (configure is not null) options.Configure(configure);
        services.TryAddSingleton<IOptions<HeunSamplerOptions>>(sp => Options.Create(sp.GetRequiredService<IOptions<SamplingOptions>>().Value.Heun));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<ISampler, HeunSampler>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<ISampler, EulerSampler>());
        services.AddOptions<KarrasScheduleOptions>();
        // The schedule lives in the contracts; the plugin registers it because its samplers need one.
        services.TryAddEnumerable(ServiceDescriptor.Singleton<ISigmaSchedule, KarrasSchedule>(
            sp => new KarrasSchedule(sp.GetRequiredService<IOptions<KarrasScheduleOptions>>().Value)));
        return services;
    }
}
