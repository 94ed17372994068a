using EDiffI.Extensibility;
using EDiffI.Plugins.Clip;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

[assembly: EDiffIPlugin("Clip", "1.0.0", PluginContract.Version, typeof(ClipPlugin))]

namespace EDiffI.Plugins.Clip;

/// <summary>The plugin's registration entry point: the "clip" text and "clip-vision" image encoders.</summary>
public sealed class ClipPlugin : IPluginRegistration
{
    /// <inheritdoc />
    public void Register(IServiceCollection services, IConfiguration configuration) => services.AddClip();
}
