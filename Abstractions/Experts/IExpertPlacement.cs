using static TorchSharp.torch;

namespace EDiffI.Experts;

/// <summary>
/// Where the experts' weights live between evaluations. Resident placement (the default) does nothing;
/// a low-memory placement keeps inactive experts in host memory and moves one to the device when it is needed.
/// </summary>
public interface IExpertPlacement
{
    /// <summary>Called before expert <paramref name="expert"/> denoises.</summary>
    void Activate(int expert);
}

/// <summary>Makes the placement of a mode ("resident", "low-memory") for an ensemble's expert modules.</summary>
public interface IExpertPlacementFactory
{
    /// <summary>The modes it knows.</summary>
    IReadOnlyList<string> Modes { get; }

    /// <summary>A placement of <paramref name="experts"/> that runs the active one on <paramref name="device"/>.</summary>
    /// <exception cref="ArgumentException">For an unknown mode.</exception>
    IExpertPlacement Create(string mode, IReadOnlyList<nn.Module> experts, Device device);
}
