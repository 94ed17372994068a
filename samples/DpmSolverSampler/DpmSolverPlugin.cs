using DpmSolverSampler;
using EDiffI.Extensibility;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

[assembly: EDiffIPlugin("DpmSolver", "0.1.0", PluginContract.Version, typeof(DpmSolverPlugin))]

namespace DpmSolverSampler;

/// <summary>The plugin's registration entry point: the "dpmpp-2m" sampler.</summary>
public sealed class DpmSolverPlugin : IPluginRegistration
{
    /// <inheritdoc />
    public void Register(IServiceCollection services, IConfiguration configuration) => services.AddDpmSolver();
}
