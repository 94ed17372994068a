using EDiffI.Extensibility;
using EDiffI.Plugins.TextHash;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

[assembly: EDiffIPlugin("TextHash", "1.0.0", PluginContract.Version, typeof(TextHashPlugin))]

namespace EDiffI.Plugins.TextHash;

/// <summary>The plugin's registration entry point: the weightless "word-hash" text encoder.</summary>
public sealed class TextHashPlugin : IPluginRegistration
{
    /// <inheritdoc />
    public void Register(IServiceCollection services, IConfiguration configuration) => services.AddTextHash();
}
