using EDiffI.Data;
using EDiffI.Evaluation;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace EDiffI.Plugins.World;

/// <summary>Service registration of the procedural world.</summary>
public static class WorldServiceCollectionExtensions
{
    /// <summary>
    /// Adds the "world:" data source and the "world:" judged prompt set of evaluations. They have no options: the split
    /// and caption style are the argument.
    /// </summary>
    /// <param name="services">The services to add to.</param>
    /// <returns><paramref name="services"/>.</returns>
    public static IServiceCollection AddWorld(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IDatasetSourceFactory, WorldSourceFactory>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IJudgedPromptSetFactory, WorldPromptSetFactory>());
        return services;
    }
}
