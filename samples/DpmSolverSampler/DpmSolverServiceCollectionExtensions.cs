using EDiffI.Sampling;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace DpmSolverSampler;

/// <summary>Service registration of the DPM-Solver++(2M) sampler.</summary>
public static class DpmSolverServiceCollectionExtensions
{
    /// <summary>Adds the "dpmpp-2m" sampler. It has no options.</summary>
    /// <param name="services">The services to add to.</param>
    /// <returns><paramref name="services"/>.</returns>
    public static IServiceCollection AddDpmSolver(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<ISampler, DpmSolverPlusPlus2MSampler>());
        return services;
    }
}
