using System.Diagnostics;
using System.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace EDiffI.Host.Training;

/// <summary>
/// Wall time of the phases of training steps (<c>train --profile</c>): at every lap the device is synchronised, so each
/// phase's time includes the GPU work it launched. That synchronisation costs the overlap of host and device that an
/// unprofiled run has, so a profiled run is a little slower than an unprofiled one; its share per phase is the point.
/// </summary>
public sealed class PhaseClock(Device device)
{
    private readonly Stopwatch _watch = new();
    private readonly Dictionary<string, double> _seconds = new(StringComparer.Ordinal);
    private readonly List<string> _order = [];
    private long _steps;

    /// <summary>Starts timing a step.</summary>
    public void Start()
    {
        Synchronize();
        _steps++;
        _watch.Restart();
    }

    /// <summary>Ends the phase <paramref name="name"/> of the current step and starts the next.</summary>
    public void Lap(string name)
    {
        Synchronize();
        if (!_seconds.ContainsKey(name)) _order.Add(name);
        _seconds[name] = _seconds.GetValueOrDefault(name) + _watch.Elapsed.TotalSeconds;
        _watch.Restart();
    }

    private void Synchronize()
    {
        if (device.type == DeviceType.CUDA) cuda.synchronize(device);
    }

    /// <summary>Milliseconds per step of every phase, their share, and the images per second they add up to.</summary>
    public string Summary(int batchSize)
    {
        if (_steps == 0) return "no steps were profiled";
        double total = _seconds.Values.Sum();
        var text = new StringBuilder($"profile over {_steps} steps of {batchSize} images on {device}:");
        foreach (var name in _order)
            text.Append($"\n  {name,-18} {_seconds[name] / _steps * 1000,9:0.00} ms/step  {_seconds[name] / total,6:P1}");
        text.Append($"\n  {"total",-18} {total / _steps * 1000,9:0.00} ms/step  ({_steps * batchSize / total:0} images/s while profiled)");
        return text.ToString();
    }
}
