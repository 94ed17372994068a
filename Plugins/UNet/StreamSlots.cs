using EDiffI.Conditioning;
using static TorchSharp.torch;

namespace EDiffI.Plugins.UNet;

/// <summary>
/// The layers of one generic conditioning slot: <c>ctx</c> projects the stream's tokens to the context
/// width, <c>map</c> its pooled vector into the time embedding, <c>input</c> its spatial map onto the first
/// feature map. <c>map</c> and <c>input</c> have no bias and start at zero, so a dropped (zero) stream adds
/// exactly nothing and a new slot on a trained base starts as the base (the ControlNet zero-convolution idea).
/// </summary>
internal sealed class StreamSlot : nn.Module
{
    // Field names are the state-dict keys.
    private readonly LinearLayer? ctx;
    private readonly LinearLayer? map;
    private readonly Conv2dLayer? input;

    public StreamSlotConfig Config { get; }

    public StreamSlot(StreamSlotConfig config, int contextChannels, int embeddingChannels, int modelChannels) : base(config.Name)
    {
        Config = config;
        if (config.Tokens > 0) ctx = new LinearLayer("ctx", config.Tokens, contextChannels);
        if (config.Pooled > 0) map = new LinearLayer("map", config.Pooled, embeddingChannels, Init.Zero, withBias: false);
        if (config.Channels > 0) input = new Conv2dLayer("input", config.Channels, modelChannels, 3, Init.Zero, withBias: false);
        RegisterComponents();
    }

    /// <summary>The stream's contribution to the time embedding, or null when it brings none.</summary>
    public Tensor? Embedding(ConditioningStream? stream, ScalarType dtype, Device device)
    {
        if (map is null || stream?.Pooled is not { } pooled) return null;
        Check(pooled.shape[^1], Config.Pooled, "pooled vector");
        return map.forward(pooled.to(dtype, device));
    }

    /// <summary>The stream's context tokens and mask, or null when it brings none.</summary>
    public (Tensor Tokens, Tensor Mask)? Context(ConditioningStream? stream, long batch, ScalarType dtype, Device device)
    {
        if (ctx is null || stream?.Tokens is not { } tokens || stream.Mask is not { } mask) return null;
        Check(tokens.shape[^1], Config.Tokens, "tokens");
        if (tokens.shape[0] != batch) throw new ArgumentException($"stream '{Config.Name}' has {tokens.shape[0]} samples, the batch {batch}");
        return (ctx.forward(tokens.to(dtype, device)), mask.to(device));
    }

    /// <summary>The stream's spatial map convolved to the first feature map's width, or null.</summary>
    public Tensor? Input(ConditioningStream? stream, long height, long width, ScalarType dtype, Device device)
    {
        if (input is null || stream?.Spatial is not { } spatial) return null;
        Check(spatial.shape[1], Config.Channels, "spatial channels");
        if (spatial.shape[2] != height || spatial.shape[3] != width)
            throw new ArgumentException($"stream '{Config.Name}' has a {spatial.shape[3]}×{spatial.shape[2]} map; the network runs at {width}×{height}");
        return input.forward(spatial.to(dtype, device));
    }

    private void Check(long got, int expected, string what)
    {
        if (got != expected) throw new ArgumentException($"stream '{Config.Name}' {what} have width {got}; the network's slot takes {expected}");
    }
}

/// <summary>Every generic slot, registered under its name ("streams.palette.ctx.weight").</summary>
internal sealed class StreamSlotSet : nn.Module
{
    private readonly List<StreamSlot> _slots = [];

    public StreamSlotSet(string name) : base(name) { }

    public void Add(StreamSlot slot)
    {
        register_module(slot.Config.Name, slot);
        _slots.Add(slot);
    }

    public IReadOnlyList<StreamSlot> Slots => _slots;
}
