using EDiffI.SuperResolution;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace EDiffI.Plugins.SuperResolution;

/// <summary>Service registration of the super-resolution stages.</summary>
public static class SuperResolutionServiceCollectionExtensions
{
    /// <summary>
    /// Adds the "ediffi-sr" stage family; its networks are built by the "ediffi-unet" network family, which another
    /// plugin provides. It has no options: each stage's defaults live in model.json's cascade.
    /// </summary>
    /// <param name="services">The services to add to.</param>
    /// <returns><paramref name="services"/>.</returns>
    public static IServiceCollection AddSuperResolution(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<ISuperResolutionFamily, SuperResolutionFamily>());
        return services;
    }
}
