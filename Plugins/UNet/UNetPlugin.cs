using EDiffI.Extensibility;
using EDiffI.Plugins.UNet;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

[assembly: EDiffIPlugin("UNet", "1.0.0", PluginContract.Version, typeof(UNetPlugin))]

namespace EDiffI.Plugins.UNet;

/// <summary>The plugin's registration entry point: the eDiff-I U-Net ("ediffi-unet").</summary>
public sealed class UNetPlugin : IPluginRegistration
{
    /// <inheritdoc />
    public void Register(IServiceCollection services, IConfiguration configuration) => services.AddUNet();
}
