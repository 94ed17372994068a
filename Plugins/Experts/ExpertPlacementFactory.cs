using EDiffI.Experts;
using static TorchSharp.torch;

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
