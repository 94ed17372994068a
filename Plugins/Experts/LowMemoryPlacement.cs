using System.Diagnostics;
using EDiffI.Experts;
using TorchSharp;
using static TorchSharp.torch;

namespace EDiffI.Plugins.Experts;

/// <summary>
/// Low-memory mode of an ensemble: only the active expert's weights are on the device; the others wait
/// in host memory and are moved over when the router first needs them. Each switch costs one
/// host-to-device copy of an expert's weights (measured in <see cref="SwitchTime"/>).
/// </summary>
public sealed class LowMemoryPlacement : IExpertPlacement
{
    private readonly IReadOnlyList<nn.Module> _experts;
    private readonly Device _device;
    private int _active = -1;

    /// <summary>Moves every expert to host memory; <paramref name="device"/> is where the active one runs.</summary>
    public LowMemoryPlacement(IReadOnlyList<nn.Module> experts, Device device)
    {
        _experts = experts;
        _device = device;
        foreach (var m in experts) m.to(CPU);
    }

    /// <summary>Number of moves so far.</summary>
    public int Switches { get; private set; }

    /// <summary>Time spent moving experts so far (synchronised on CUDA).</summary>
    public TimeSpan SwitchTime { get; private set; }

    /// <summary>Index of the expert on the device, or −1 before the first evaluation.</summary>
    public int Active => _active;

    /// <inheritdoc />
    public void Activate(int expert)
    {
        if (expert == _active) return;
        if (_device.type == DeviceType.CPU)
        {
            // Host memory is the device: nothing to move.
            _active = expert;
            Switches++;
            return;
        }
        var clock = Stopwatch.StartNew();
        if (_active >= 0) _experts[_active].to(CPU);
        _experts[expert].to(_device);
        if (_device.type == DeviceType.CUDA) cuda.synchronize();
        SwitchTime += clock.Elapsed;
        Switches++;
        _active = expert;
    }
}
