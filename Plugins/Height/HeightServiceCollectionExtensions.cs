using EDiffI.Textures;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace EDiffI.Plugins.Height;

/// <summary>Service registration of the height estimator.</summary>
public static class HeightServiceCollectionExtensions
{
    /// <summary>Adds the "height-unet" estimator kind. It has no options: its shape is in the model's <c>height.json</c>.</summary>
    /// <param name="services">The services to add to.</param>
    /// <returns><paramref name="services"/>.</returns>
    public static IServiceCollection AddHeightEstimation(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHeightEstimatorFactory, HeightUNetFactory>());
        return services;
    }
}
