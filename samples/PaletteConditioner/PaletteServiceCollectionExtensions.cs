using EDiffI.Conditioning;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace PaletteConditioner;

/// <summary>Service registration of the palette conditioner.</summary>
public static class PaletteServiceCollectionExtensions
{
    /// <summary>Adds the "palette" conditioner.</summary>
    public static IServiceCollection AddPalette(this IServiceCollection services)
    {
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IConditioner, PaletteConditioner>());
        return services;
    }
}
