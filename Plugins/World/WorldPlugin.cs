using EDiffI.Extensibility;
using EDiffI.Plugins.World;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

[assembly: EDiffIPlugin("World", "0.1.0", PluginContract.Version, typeof(WorldPlugin))]

namespace EDiffI.Plugins.World;

/// <summary>The plugin's registration entry point: the procedural texture world ("world:" data source).</summary>
public sealed class WorldPlugin : IPluginRegistration
{
    /// <inheritdoc />
    public void Register(IServiceCollection services, IConfiguration configuration) => services.AddWorld();
}
