using EDiffI.Extensibility;
using EDiffI.Plugins.T5;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

[assembly: EDiffIPlugin("T5", "0.1.0", PluginContract.Version, typeof(T5Plugin))]

namespace EDiffI.Plugins.T5;

/// <summary>The plugin's registration entry point: the T5 text encoder ("t5").</summary>
public sealed class T5Plugin : IPluginRegistration
{
    /// <inheritdoc />
    public void Register(IServiceCollection services, IConfiguration configuration) => services.AddT5();
}
