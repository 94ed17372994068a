using EDiffI.Encoders;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace EDiffI.Plugins.TextHash;

/// <summary>Service registration of the word-hash text encoder.</summary>
public static class TextHashServiceCollectionExtensions
{
    /// <summary>Adds the "word-hash" text encoder factory. It has no options: an encoder's settings come from the model's specification.</summary>
    /// <param name="services">The services to add to.</param>
    /// <returns><paramref name="services"/>.</returns>
    public static IServiceCollection AddTextHash(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<ITextEncoderFactory, WordHashEncoderFactory>());
        return services;
    }
}
