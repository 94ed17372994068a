using EDiffI.Experts;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace EDiffI.Plugins.Experts;

/// <summary>Service registration of the expert router and placements.</summary>
public static class ExpertsServiceCollectionExtensions
{
    /// <summary>Adds the "sigma-interval" router and the expert placements ("resident", "low-memory"). It has no options.</summary>
    /// <param name="services">The services to add to.</param>
    /// <returns><paramref name="services"/>.</returns>
    public static IServiceCollection AddExperts(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IExpertRouterFactory, SigmaIntervalRouterFactory>());
        services.TryAddSingleton<IExpertPlacementFactory, ExpertPlacementFactory>();
        return services;
    }
}
