using EDiffI.Attention;
using EDiffI.Conditioning;
using TorchSharp;
using EDiffI.Diagnostics;
using EDiffI.Networks;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace EDiffI.Plugins.UNet;

/// <summary>What every block of one forward pass shares.</summary>
internal sealed record BlockContext(
    Tensor Embedding, Tensor? Context, Tensor? ContextMask, ContextLayout? Layout, Tensor Sigma, ConditioningInputs Conditioning);

/// <summary>Choices every block of a network shares: self-attention at attention resolutions, and the scale of residual sums.</summary>
internal sealed record BlockShape(bool SelfAttention = true, double SkipScale = 1);

/// <summary>
/// One block of the ADM U-Net (Dhariwal and Nichol 2021): a residual block with scale-shift
/// normalisation by the time embedding, optional down- or up-sampling inside the block, optional
/// self-attention, and (eDiff-I, Appendix A) a cross-attention block after every self-attention.
/// </summary>
internal sealed class UNetBlock : nn.Module
{
    private readonly GroupNormLayer norm0;
    private readonly Conv2dLayer conv0;
    private readonly LinearLayer affine;
    private readonly GroupNormLayer norm1;
    private readonly Conv2dLayer conv1;
    private readonly Conv2dLayer? skip;
    private readonly GroupNormLayer? norm2;
    private readonly LinearLayer? qkv;
    private readonly LinearLayer? proj;
    private readonly GroupNormLayer? norm3;
    private readonly LinearLayer? xq;
    private readonly LinearLayer? xkv;
    private readonly LinearLayer? xproj;

    private readonly int _outChannels;
    private readonly int _heads;
    private readonly bool _up, _down;
    private readonly double _dropout;
    private readonly double _skipScale;

    /// <summary>The cross-attention layer this block owns, or null.</summary>
    public CrossAttentionLayer? CrossLayer { get; }

    /// <summary>The processor its cross-attention delegates to.</summary>
    public ICrossAttentionProcessor Processor { get; set; } = DefaultCrossAttentionProcessor.Instance;

    public UNetBlock(string name, int inChannels, int outChannels, int embChannels, int resolution,
        bool up = false, bool down = false, bool attention = false, int headChannels = 64,
        int contextChannels = 0, double dropout = 0, BlockShape? shape = null) : base(name)
    {
        shape ??= new BlockShape();
        _skipScale = shape.SkipScale;
        _outChannels = outChannels;
        _up = up;
        _down = down;
        _dropout = dropout;
        _heads = Math.Max(1, outChannels / headChannels);
        norm0 = new GroupNormLayer("norm0", inChannels);
        conv0 = new Conv2dLayer("conv0", inChannels, outChannels, 3);
        affine = new LinearLayer("affine", embChannels, 2 * outChannels);
        norm1 = new GroupNormLayer("norm1", outChannels);
        conv1 = new Conv2dLayer("conv1", outChannels, outChannels, 3, Init.Zero);
        if (inChannels != outChannels) skip = new Conv2dLayer("skip", inChannels, outChannels, 1);
        if (attention)
        {
            if (shape.SelfAttention)
            {
                norm2 = new GroupNormLayer("norm2", outChannels);
                qkv = new LinearLayer("qkv", outChannels, 3 * outChannels);
                proj = new LinearLayer("proj", outChannels, outChannels, Init.Zero);
            }
            if (contextChannels > 0)
            {
                norm3 = new GroupNormLayer("norm3", outChannels);
                xq = new LinearLayer("xq", outChannels, outChannels);
                xkv = new LinearLayer("xkv", contextChannels, 2 * outChannels);
                xproj = new LinearLayer("xproj", outChannels, outChannels, Init.Zero);
                int side = up ? resolution * 2 : down ? resolution / 2 : resolution;
                CrossLayer = new CrossAttentionLayer(name + ".xattn", side, side, _heads);
            }
        }
        RegisterComponents();
    }

    public Tensor forward(Tensor x, BlockContext c)
    {
        using var scope = NewDisposeScope();
        var orig = x;
        var h = norm0.Forward(x, silu: true);
        if (_up) { h = Upsample(h); orig = Upsample(orig); }
        if (_down) { h = F.avg_pool2d(h, 2); orig = F.avg_pool2d(orig, 2); }
        h = conv0.forward(h);

        // Scale-shift normalisation by the time embedding (ADM's use_scale_shift_norm).
        var p = affine.forward(c.Embedding.to(h.dtype)).unsqueeze(2).unsqueeze(3);
        var scaleShift = p.chunk(2, 1);
        h = norm1.Forward(h, silu: true, scale: scaleShift[0], shift: scaleShift[1]);
        if (_dropout > 0 && training) h = F.dropout(h, _dropout, training);
        h = conv1.forward(h);
        x = h.Plus(skip is null ? orig : skip.forward(orig));
        if (_skipScale != 1) x = x.mul(HeldScalars.Of(_skipScale));

        if (qkv is not null) x = Residual(x, SelfAttention(x));
        if (xq is not null && c.Context is not null) x = Residual(x, CrossAttention(x, c));
        return x.MoveToOuterDisposeScope();
    }

    // Sums and scales through held Scalars (HeldScalars: a temporary one can be collected while libtorch reads it).
    private Tensor Residual(Tensor x, Tensor update) => _skipScale == 1 ? x.Plus(update) : x.Plus(update).mul(HeldScalars.Of(_skipScale));

    private static Tensor Upsample(Tensor x) => F.upsample_nearest2d(x, [x.shape[2] * 2, x.shape[3] * 2], null);

    // Attention works on tokens [B, HW, C] so that queries, keys and values keep the head dimension
    // contiguous, which the fused (flash / memory-efficient) attention kernels require.
    private static Tensor ToTokens(Tensor x) => x.flatten(2).transpose(1, 2);

    private static Tensor FromTokens(Tensor tokens, Tensor like) =>
        tokens.transpose(1, 2).reshape(like.shape[0], like.shape[1], like.shape[2], like.shape[3]);

    private Tensor SelfAttention(Tensor x)
    {
        long b = x.shape[0], ch = x.shape[1], len = x.shape[2] * x.shape[3], dh = ch / _heads;
        var t = qkv!.forward(ToTokens(norm2!.Forward(x, silu: false))).view(b, len, 3, _heads, dh).permute(2, 0, 3, 1, 4); // [3, B, heads, HW, dh]
        var a = F.scaled_dot_product_attention(t[0], t[1], t[2]);
        FlopCounter.Add(4 * b * len * len * ch);
        return FromTokens(proj!.forward(a.transpose(1, 2).reshape(b, len, ch)), x);
    }

    private Tensor CrossAttention(Tensor x, BlockContext c)
    {
        long b = x.shape[0], ch = x.shape[1], len = x.shape[2] * x.shape[3], dh = ch / _heads;
        var q = xq!.forward(ToTokens(norm3!.Forward(x, silu: false))).view(b, len, _heads, dh).transpose(1, 2); // [B, heads, HW, dh]
        var ctx = c.Context!.to(x.dtype);
        long lk = ctx.shape[1];
        var kv = xkv!.forward(ctx).view(b, lk, 2, _heads, dh).permute(2, 0, 3, 1, 4);           // [2, B, heads, Lk, dh]
        var inputs = new CrossAttentionInputs(q, kv[0], kv[1], c.ContextMask!, CrossLayer!, c.Layout!, c.Sigma, c.Conditioning);
        var a = Processor.Attend(inputs);                                                          // [B, heads, HW, dh]
        FlopCounter.Add(4 * b * len * lk * ch);
        return FromTokens(xproj!.forward(a.transpose(1, 2).reshape(b, len, ch)), x);
    }
}
