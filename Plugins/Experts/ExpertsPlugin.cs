using EDiffI.Extensibility;
using EDiffI.Plugins.Experts;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

[assembly: EDiffIPlugin("Experts", "1.0.0", PluginContract.Version, typeof(ExpertsPlugin))]

namespace EDiffI.Plugins.Experts;

/// <summary>The plugin's registration entry point: the expert router and placements of eDiff-I's ensembles (Section 4.1).</summary>
public sealed class ExpertsPlugin : IPluginRegistration
{
    /// <inheritdoc />
    public void Register(IServiceCollection services, IConfiguration configuration) => services.AddExperts();
}
