using EDiffI.Extensibility;
using EDiffI.Plugins.Height;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

[assembly: EDiffIPlugin("Height", "0.1.0", PluginContract.Version, typeof(HeightPlugin))]

namespace EDiffI.Plugins.Height;

/// <summary>The plugin's registration entry point: the "height-unet" height-from-albedo estimator.</summary>
public sealed class HeightPlugin : IPluginRegistration
{
    /// <inheritdoc />
    public void Register(IServiceCollection services, IConfiguration configuration) => services.AddHeightEstimation();
}
