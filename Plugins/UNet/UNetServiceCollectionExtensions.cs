using EDiffI.Networks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace EDiffI.Plugins.UNet;

/// <summary>Service registration of the U-Net.</summary>
public static class UNetServiceCollectionExtensions
{
    /// <summary>Adds the "ediffi-unet" network family. It has no options: a network's shape comes from its unet.json.</summary>
    /// <param name="services">The services to add to.</param>
    /// <returns><paramref name="services"/>.</returns>
    public static IServiceCollection AddUNet(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<INetworkFamily, UNetFamily>());
        return services;
    }
}
