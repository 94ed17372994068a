using EDiffI.Extensibility;
using EDiffI.Plugins.SuperResolution;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

[assembly: EDiffIPlugin("SuperResolution", "1.0.0", PluginContract.Version, typeof(SuperResolutionPlugin))]

namespace EDiffI.Plugins.SuperResolution;

/// <summary>The plugin's registration entry point: the "ediffi-sr" super-resolution stages of the cascade.</summary>
public sealed class SuperResolutionPlugin : IPluginRegistration
{
    /// <inheritdoc />
    public void Register(IServiceCollection services, IConfiguration configuration) => services.AddSuperResolution();
}
