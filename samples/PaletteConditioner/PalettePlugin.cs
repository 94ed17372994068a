using EDiffI.Extensibility;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using PaletteConditioner;

[assembly: EDiffIPlugin("Palette", "0.1.0", PluginContract.Version, typeof(PalettePlugin))]

namespace PaletteConditioner;

/// <summary>The plugin's registration entry point: the "palette" conditioner.</summary>
public sealed class PalettePlugin : IPluginRegistration
{
    /// <inheritdoc />
    public void Register(IServiceCollection services, IConfiguration configuration) => services.AddPalette();
}
