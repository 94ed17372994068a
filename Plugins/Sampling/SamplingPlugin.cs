using EDiffI.Extensibility;
using EDiffI.Plugins.Sampling;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

[assembly: EDiffIPlugin("Sampling", "1.0.0", PluginContract.Version, typeof(SamplingPlugin))]

namespace EDiffI.Plugins.Sampling;

/// <summary>The plugin's registration entry point: the Heun and Euler samplers and the Karras schedule.</summary>
public sealed class SamplingPlugin : IPluginRegistration
{
    /// <summary>The configuration section of its options.</summary>
    public const string Section = "Sampling";

    /// <summary>Where the Heun options lived before "Sampling:Heun"; still read, and it wins over the new key.</summary>
    public const string LegacyHeunSection = "Samplers:Heun";

    /// <inheritdoc />
    public void Register(IServiceCollection services, IConfiguration configuration) =>
        services.AddSampling(options =>
        {
            configuration.GetSection(Section).Bind(options);
            configuration.GetSection(LegacyHeunSection).Bind(options.Heun);
        });
}
