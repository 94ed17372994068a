using EDiffI.Encoders;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace EDiffI.Plugins.T5;

/// <summary>Service registration of the T5 text encoder.</summary>
public static class T5ServiceCollectionExtensions
{
    /// <summary>Adds the "t5" text encoder factory. It has no options: the checkpoint's config.json sets the encoder.</summary>
    /// <param name="services">The services to add to.</param>
    /// <returns><paramref name="services"/>.</returns>
    public static IServiceCollection AddT5(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<ITextEncoderFactory, T5EncoderFactory>());
        return services;
    }
}
