using EDiffI.Denoising;
using static TorchSharp.torch;

namespace EDiffI.Networks;

/// <summary>
/// Fused CUDA kernels of the optional native shim (native/cudagraphs, interface version 2) for networks to use where
/// they apply, and the channels-last execution they make worthwhile. GroupNorm → affine → scale-shift → SiLU, the
/// chain of every residual block, runs as two passes over a channels-last bf16 activation instead of three or four
/// (eager libtorch's CUDA GroupNorm also turns channels-last input back into NCHW). Inference only: there is no
/// backward, so with gradients on, on CPU, in other dtypes or layouts, or without the shim the callers run the eager
/// chain, with the same results within bf16 rounding.
/// </summary>
public static class CudaKernels
{
    /// <summary>The environment variable that turns channels-last execution on ("on" or "1").</summary>
    public const string ChannelsLastVariable = "EDIFFI_CHANNELS_LAST";

    /// <summary>
    /// Whether networks that support it run channels-last on CUDA (their input converted once, every activation kept
    /// NHWC, normalisation through the fused kernel). Off unless turned on: `bench --channels-last` measures it.
    /// </summary>
    public static bool ChannelsLast { get; set; } =
        Environment.GetEnvironmentVariable(ChannelsLastVariable)?.Trim().ToLowerInvariant() is "on" or "1" or "true";

    /// <summary>True when the shim is loaded and has the fused GroupNorm.</summary>
    public static bool FusedGroupNormAvailable => CudaGraphs.Loaded?.HasGroupNorm == true;

    /// <summary>Whether <paramref name="x"/> [N, C, H, W] lies in channels-last memory (C innermost).</summary>
    public static bool IsChannelsLast(Tensor x)
    {
        if (x.dim() != 4) return false;
        var s = x.stride();
        long c = x.shape[1], h = x.shape[2], w = x.shape[3];
        return s[1] == 1 && s[3] == c && s[2] == w * c && s[0] == h * w * c;
    }

    /// <summary><paramref name="x"/> [N, C, H, W] copied into channels-last memory (the same logical tensor).</summary>
    public static Tensor ToChannelsLast(Tensor x) => IsChannelsLast(x) ? x.alias() : x.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2);

    /// <summary>Whether networks should convert <paramref name="x"/> to channels-last now (see <see cref="ChannelsLast"/>).</summary>
    public static bool UseChannelsLast(Tensor x) =>
        ChannelsLast && x.device_type == TorchSharp.DeviceType.CUDA && x.dtype == ScalarType.BFloat16 && !is_grad_enabled() && FusedGroupNormAvailable;

    /// <summary>
    /// act(shift + (γ·GroupNorm(x) + β)·(1 + scale)) by the fused kernel, or null when it cannot run on these tensors
    /// (the caller then runs the eager chain). <paramref name="scale"/> and <paramref name="shift"/> are [N, C] (or
    /// [N, C, 1, 1]) or both null; γ and β [C] in x's dtype.
    /// </summary>
    public static Tensor? GroupNorm(Tensor x, long groups, Tensor gamma, Tensor beta, double eps, Tensor? scale, Tensor? shift, bool silu)
    {
        if (x.device_type != TorchSharp.DeviceType.CUDA || x.dtype != ScalarType.BFloat16 || is_grad_enabled() || !IsChannelsLast(x)) return null;
        if (x.shape[1] % 8 != 0 || x.shape[1] % groups != 0 || (scale is null) != (shift is null)) return null;
        if (CudaGraphs.Loaded is not { HasGroupNorm: true } shim) return null;
        using var s = scale?.flatten(1);
        using var t = shift?.flatten(1);
        if (s is not null && (s.dtype != ScalarType.BFloat16 || s.stride()[1] != 1 || t!.stride()[1] != 1 || s.stride()[0] != t.stride()[0])) return null;
        var output = empty_strided(x.shape, x.stride(), x.dtype, x.device);
        if (shim.GroupNorm(x, output, gamma, beta, s, t, (int)groups, eps, silu)) return output;
        output.Dispose();
        return null;
    }
}
