using EDiffI.Experts;
using EDiffI.Extensibility;
using EDiffI.Plugins.Experts;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using static TorchSharp.torch;

[assembly: EDiffIPlugin("Experts", "1.0.0", PluginContract.Version, typeof(ExpertsPlugin))]

namespace EDiffI.Plugins.Experts;

/// <summary>Places experts resident ("resident") or in host memory until needed ("low-memory").</summary>
public sealed class ExpertPlacementFactory : IExpertPlacementFactory
{
    /// <inheritdoc />
    public IReadOnlyList<string> Modes => ["resident", "low-memory"];

    /// <inheritdoc />
    public IExpertPlacement Create(string mode, IReadOnlyList<nn.Module> experts, Device device) => mode switch
    {
        "resident" => new ResidentPlacement(),
        "low-memory" => new LowMemoryPlacement(experts, device),
        _ => throw new ArgumentException($"Unknown expert placement '{mode}' (known: {string.Join(", ", Modes)})."),
    };
}

/// <summary>The plugin's registration entry point.</summary>
public sealed class ExpertsPlugin : IPluginRegistration
{
    /// <inheritdoc />
    public void Register(IServiceCollection services, IConfiguration configuration) => services.AddExpertRouting();
}

/// <summary>Service registration of the expert router.</summary>
public static class ExpertsServiceCollectionExtensions
{
    /// <summary>Adds the "sigma-interval" router and the expert placements.</summary>
    public static IServiceCollection AddExpertRouting(this IServiceCollection services)
    {
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IExpertRouterFactory, SigmaIntervalRouterFactory>());
        services.TryAddSingleton<IExpertPlacementFactory, ExpertPlacementFactory>();
        return services;
    }
}
