using EDiffI.Encoders;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace EDiffI.Plugins.Clip;

/// <summary>Service registration of the CLIP encoders.</summary>
public static class ClipServiceCollectionExtensions
{
    /// <summary>Adds the "clip" text and "clip-vision" image encoder factories. It has no options: the checkpoint's config.json sets the encoders.</summary>
    /// <param name="services">The services to add to.</param>
    /// <returns><paramref name="services"/>.</returns>
    public static IServiceCollection AddClip(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<ITextEncoderFactory, ClipTextEncoderFactory>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IImageEncoderFactory, ClipImageEncoderFactory>());
        return services;
    }
}
