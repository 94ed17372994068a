using EDiffI.Extensibility;
using EDiffI.Plugins.Sampling;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

[assembly: EDiffIPlugin("Sampling", "1.0.0", PluginContract.Version, typeof(SamplingPlugin))]

namespace EDiffI.Plugins.Sampling;

/// <summary>Registers the Heun and Euler samplers and the Karras schedule; options from "Samplers:Heun".</summary>
public sealed class SamplingPlugin : IPluginRegistration
{
    /// <inheritdoc />
    public void Register(IServiceCollection services, IConfiguration configuration) =>
        services.AddEdmSamplers(options => configuration.GetSection("Samplers:Heun").Bind(options));
}
