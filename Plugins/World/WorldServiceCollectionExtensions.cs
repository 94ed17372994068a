using EDiffI.Data;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace EDiffI.Plugins.World;

/// <summary>Service registration of the procedural world.</summary>
public static class WorldServiceCollectionExtensions
{
    /// <summary>Adds the "world:" data source. It has no options: the split and caption style are the source's argument.</summary>
    /// <param name="services">The services to add to.</param>
    /// <returns><paramref name="services"/>.</returns>
    public static IServiceCollection AddWorld(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IDatasetSourceFactory, WorldSourceFactory>());
        return services;
    }
}
