using System.ComponentModel;
using EDiffI.Host.Runtime;
using Spectre.Console.Cli;

namespace EDiffI.Host.Commands;

/// <summary>Options every verb that runs a model shares.</summary>
public class DeviceSettings : CommandSettings
{
    /// <summary>cpu, cuda or cuda:N.</summary>
    [CommandOption("--device <DEVICE>")]
    [Description("cpu, cuda or cuda:N (default cpu)")]
    public string Device { get; init; } = "cpu";

    /// <summary>Compute precision.</summary>
    [CommandOption("--precision <PRECISION>")]
    [Description("auto (bf16 on CUDA, fp32 on CPU), bf16, fp16 or fp32")]
    public string Precision { get; init; } = "auto";

    /// <summary>Folder of a CUDA libtorch.</summary>
    [CommandOption("--torch-lib <FOLDER>")]
    [Description("folder holding a CUDA libtorch, e.g. a PyTorch install's torch/lib (or set EDIFFI_TORCH_LIB)")]
    public string? TorchLib { get; init; }

    /// <summary>on or off: replay network evaluations from CUDA graphs where the native shim is present.</summary>
    [CommandOption("--cuda-graphs <ON|OFF>")]
    [Description("on (default) or off: on CUDA, replay each network evaluation from a captured CUDA graph when the native shim (native/cudagraphs) is present; or set EDIFFI_CUDA_GRAPHS=off")]
    public string? CudaGraphs { get; init; }

    /// <summary>Applies the settings that must be in place before the first tensor: the libtorch build, CUDA graphs.</summary>
    public void ApplyRuntime()
    {
        TorchRuntime.UseTorchLibrary(TorchLib);
        switch (CudaGraphs?.Trim().ToLowerInvariant())
        {
            case null: break;
            case "on": EDiffI.Denoising.CudaGraphs.Enabled = true; break;
            case "off": EDiffI.Denoising.CudaGraphs.Enabled = false; break;
            default: throw new UserException($"--cuda-graphs takes on or off, not '{CudaGraphs}'.");
        }
    }
}

/// <summary>Cancellation on Ctrl+C for the life of a command.</summary>
internal sealed class ConsoleCancellation : IDisposable
{
    private readonly CancellationTokenSource _source = new();
    private readonly System.Runtime.InteropServices.PosixSignalRegistration _terminate;

    // Ctrl+C, and SIGTERM (a scheduler's or `timeout`'s stop): both end the work at the next safe point.
    public ConsoleCancellation()
    {
        Console.CancelKeyPress += OnCancel;
        _terminate = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, c =>
        {
            c.Cancel = true;
            _source.Cancel();
        });
    }

    public CancellationToken Token => _source.Token;

    private void OnCancel(object? sender, ConsoleCancelEventArgs e)
    {
        e.Cancel = true;
        _source.Cancel();
    }

    public void Dispose()
    {
        Console.CancelKeyPress -= OnCancel;
        _terminate.Dispose();
        _source.Dispose();
    }
}
