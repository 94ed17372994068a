using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace EDiffI.Host.Runtime;

/// <summary>Chooses the device and, where asked, the libtorch build that TorchSharp runs on.</summary>
public static class TorchRuntime
{
    /// <summary>Environment variable naming a folder with a CUDA libtorch (for example a PyTorch install's torch/lib).</summary>
    public const string TorchLibVariable = "EDIFFI_TORCH_LIB";

    private static bool _preloaded;

    /// <summary>
    /// Loads libtorch from <paramref name="folder"/> (or from <see cref="TorchLibVariable"/>, then
    /// TORCH_LIB_DIR) before TorchSharp does, so TorchSharp binds to that build, CUDA included.
    /// Must run before the first tensor is made.
    /// </summary>
    public static void UseTorchLibrary(string? folder)
    {
        folder ??= Environment.GetEnvironmentVariable(TorchLibVariable) ?? Environment.GetEnvironmentVariable("TORCH_LIB_DIR");
        if (_preloaded || string.IsNullOrEmpty(folder)) return;
        if (!Directory.Exists(folder))
            throw new UserException($"The libtorch folder '{folder}' does not exist (set by --torch-lib, {TorchLibVariable} or TORCH_LIB_DIR).");
        string ext = OperatingSystem.IsWindows() ? ".dll" : OperatingSystem.IsMacOS() ? ".dylib" : ".so";
        string prefix = OperatingSystem.IsWindows() ? "" : "lib";
        string core = Path.Combine(folder, prefix + "torch" + ext);
        if (!File.Exists(core))
            throw new UserException($"'{folder}' holds no {prefix}torch{ext}; point it at the lib folder of a libtorch or PyTorch install.");
        foreach (string name in new[] { "c10", "torch_cpu", "c10_cuda", "torch_cuda", "torch" })
        {
            string path = Path.Combine(folder, prefix + name + ext);
            if (File.Exists(path)) NativeLibrary.Load(path);
        }
        _preloaded = true;
    }

    /// <summary>Parses "cpu", "cuda" or "cuda:N", checking the device is there.</summary>
    public static Device ParseDevice(string text)
    {
        string t = text.Trim().ToLowerInvariant();
        if (t == "cpu") return CPU;
        if (t == "cuda" || t.StartsWith("cuda:", StringComparison.Ordinal))
        {
            if (!cuda.is_available())
                throw new UserException(
                    "--device cuda was asked for, but TorchSharp sees no CUDA device. The CPU build of libtorch ships with this " +
                    $"project; point --torch-lib (or {TorchLibVariable}) at a CUDA libtorch, such as a PyTorch install's torch/lib.");
            return new Device(t);
        }
        throw new UserException($"Unknown device '{text}': use cpu, cuda or cuda:N.");
    }

    /// <summary>The compute dtype for a device: bfloat16 on CUDA, float32 on the CPU, unless named.</summary>
    public static ScalarType ComputeType(Device device, string? name) => name?.ToLowerInvariant() switch
    {
        null or "" or "auto" => device.type == DeviceType.CUDA ? ScalarType.BFloat16 : ScalarType.Float32,
        "bf16" or "bfloat16" => ScalarType.BFloat16,
        "fp16" or "float16" => ScalarType.Float16,
        "fp32" or "float32" => ScalarType.Float32,
        _ => throw new UserException($"Unknown precision '{name}': use auto, bf16, fp16 or fp32."),
    };
}
