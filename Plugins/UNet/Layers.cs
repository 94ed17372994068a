using TorchSharp;
using TorchSharp.Modules;
using EDiffI.Diagnostics;
using EDiffI.Networks;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace EDiffI.Plugins.UNet;

// Layers that keep float32 master weights and compute in the dtype of their input: with a bf16
// input the weights are cast on the fly (autograd flows back to the float32 master copy), which is
// what mixed-precision training needs; once the whole model is converted to bf16 the casts vanish.

/// <summary>Initial values of a layer's weights.</summary>
internal enum Init
{
    /// <summary>PyTorch's default: uniform in ±1/√fan_in.</summary>
    Default,
    /// <summary>Zeros: the last layer of a residual branch starts as the identity (ADM).</summary>
    Zero,
}

/// <summary>
/// The wrap-around of the forward pass running on this thread (set by <see cref="EDiffIUNet.Forward"/> from the
/// conditioning's <see cref="TilingMode"/>): every <see cref="Conv2dLayer"/> pads the wrapping axes circularly.
/// </summary>
internal static class PaddingScope
{
    [ThreadStatic] private static TileAxes _current;

    /// <summary>The axes that wrap in the forward pass on this thread.</summary>
    public static TileAxes Current => _current;

    /// <summary>Wraps <paramref name="axes"/> until the returned value is disposed (scopes nest).</summary>
    public static Restore Enter(TileAxes axes)
    {
        var previous = _current;
        _current = axes;
        return new Restore(previous);
    }

    /// <summary>Puts the previous axes back.</summary>
    public readonly struct Restore(TileAxes previous) : IDisposable
    {
        /// <inheritdoc />
        public void Dispose() => _current = previous;
    }
}

/// <summary>A 2-D convolution with "same" padding: zeros, or circular along the axes <see cref="PaddingScope"/> wraps.</summary>
internal sealed class Conv2dLayer : nn.Module<Tensor, Tensor>
{
    private readonly Parameter weight;
    private readonly Parameter? bias;
    private readonly long _padding;

    public Conv2dLayer(string name, long inChannels, long outChannels, long kernel, Init init = Init.Default, bool withBias = true) : base(name)
    {
        double bound = 1 / Math.Sqrt(inChannels * kernel * kernel);
        double scale = init == Init.Zero ? 0 : bound;
        weight = new Parameter((rand(outChannels, inChannels, kernel, kernel) * 2 - 1) * scale);
        if (withBias) bias = new Parameter((rand(outChannels) * 2 - 1) * scale);
        _padding = kernel / 2;
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var w = weight.to(x.dtype);
        using var b = bias?.to(x.dtype);
        var axes = PaddingScope.Current;
        Tensor y;
        if (axes == TileAxes.None || _padding == 0) y = F.conv2d(x, w, b, padding: [_padding, _padding]);
        else
        {
            using var padded = Tiling.Pad(x, _padding, axes);
            y = F.conv2d(padded, w, b);
        }
        FlopCounter.Add(2 * weight.numel() * y.shape[0] * y.shape[2] * y.shape[3]);
        return y;
    }
}

/// <summary>A fully connected layer.</summary>
internal sealed class LinearLayer : nn.Module<Tensor, Tensor>
{
    private readonly Parameter weight;
    private readonly Parameter? bias;

    public LinearLayer(string name, long inFeatures, long outFeatures, Init init = Init.Default, bool withBias = true) : base(name)
    {
        double scale = init == Init.Zero ? 0 : 1 / Math.Sqrt(inFeatures);
        weight = new Parameter((rand(outFeatures, inFeatures) * 2 - 1) * scale);
        if (withBias) bias = new Parameter((rand(outFeatures) * 2 - 1) * scale);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var w = weight.to(x.dtype);
        using var b = bias?.to(x.dtype);
        FlopCounter.Add(2 * weight.numel() * (x.numel() / x.shape[^1]));
        return F.linear(x, w, b);
    }
}

/// <summary>Group normalisation with min(32, C/4) groups, as in ADM and EDM.</summary>
internal sealed class GroupNormLayer : nn.Module<Tensor, Tensor>
{
    private readonly Parameter weight;
    private readonly Parameter bias;
    private readonly long _groups;

    public GroupNormLayer(string name, long channels) : base(name)
    {
        _groups = Math.Max(1, Math.Min(32, channels / 4));
        while (channels % _groups != 0) _groups--;
        weight = new Parameter(ones(channels));
        bias = new Parameter(zeros(channels));
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var w = weight.to(x.dtype);
        using var b = bias.to(x.dtype);
        return F.group_norm(x, _groups, w, b, 1e-5);
    }

    /// <summary>
    /// act(shift + norm(x)·(1 + scale)) with act SiLU or the identity and scale, shift [N, C, 1, 1] or null: in one fused
    /// kernel on channels-last CUDA activations (<see cref="CudaKernels"/>), else as the eager chain.
    /// </summary>
    public Tensor Forward(Tensor x, bool silu, Tensor? scale = null, Tensor? shift = null)
    {
        using var w = weight.to(x.dtype);
        using var b = bias.to(x.dtype);
        if (CudaKernels.GroupNorm(x, _groups, w, b, 1e-5, scale, shift, silu) is { } fused) return fused;
        var y = F.group_norm(x, _groups, w, b, 1e-5);
        // Held Scalars: a temporary one can be collected while libtorch still reads it (HeldScalars).
        if (scale is not null) y = addcmul(shift!, y, scale.add(HeldScalars.One, HeldScalars.One), HeldScalars.One);
        return silu ? F.silu(y) : y;
    }
}
