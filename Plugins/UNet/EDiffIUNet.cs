using EDiffI.Attention;
using EDiffI.Conditioning;
using EDiffI.Denoising;
using EDiffI.Networks;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace EDiffI.Plugins.UNet;

/// <summary>
/// The eDiff-I base network F_θ: the ADM U-Net (Dhariwal and Nichol 2021) modified as in eDiff-I,
/// Appendix A. Global conditioning: the projected pooled CLIP text vector and the CLIP image
/// embedding are added to the time embedding. Cross-attention after every self-attention attends to
/// [CLIP text tokens, T5 tokens, CLIP image token, learnable null token], padding masked.
/// Wrap it in <see cref="PreconditionedDenoiser"/> to get the EDM denoiser D(x; σ).
/// </summary>
public sealed class EDiffIUNet : nn.Module, INetwork, ICrossAttentionHost
{
    // Field names are the state-dict keys.
    private readonly LinearLayer map_layer0;
    private readonly LinearLayer map_layer1;
    private readonly LinearLayer? map_clip_pooled;
    private readonly LinearLayer? map_t5_pooled;
    private readonly LinearLayer? map_clip_image;
    private readonly LinearLayer? ctx_clip_text;
    private readonly LinearLayer? ctx_t5;
    private readonly LinearLayer? ctx_clip_image;
    private readonly Parameter? ctx_null;
    private readonly Conv2dLayer conv_in;
    private readonly BlockSequence enc;
    private readonly BlockSequence dec;
    private readonly GroupNormLayer out_norm;
    private readonly Conv2dLayer out_conv;
    private readonly StreamSlotSet? streams;

    // Whether each decoder block, in order, first concatenates the matching encoder output.
    private readonly List<bool> _decoderTakesSkip = [];

    /// <summary>The configuration the network was built from.</summary>
    public UNetConfig Config { get; }

    /// <inheritdoc />
    public ScalarType ComputeType { get; set; } = ScalarType.Float32;

    /// <inheritdoc />
    public string Kind => UNetFamily.FamilyKind;
    /// <inheritdoc />
    public nn.Module Module => this;
    /// <inheritdoc />
    public int Resolution => Config.Resolution;

    /// <inheritdoc />
    public bool CanTile => true;

    /// <inheritdoc />
    /// <remarks>
    /// The skips the decoder will read (each encoder block's output, C_l channels at 1/4^l of the pixels) plus about six
    /// feature maps of the widest level in flight (the block's input, normalised and activated copies, a convolution's
    /// output and the concatenation with a skip).
    /// </remarks>
    public double? InferenceBytesPerPixel
    {
        get
        {
            double skips = Config.ModelChannels, widest = Config.ModelChannels;
            for (int level = 0; level < Config.ChannelMultipliers.Length; level++)
            {
                double perPixel = Config.ModelChannels * Config.ChannelMultipliers[level] / Math.Pow(4, level);
                skips += (Config.BlocksAt(level) + (level > 0 ? 1 : 0)) * perPixel;
                widest = Math.Max(widest, perPixel);
            }
            int bytes = ComputeType is ScalarType.Float16 or ScalarType.BFloat16 ? 2 : 4;
            return bytes * (skips + 6 * widest);
        }
    }
    /// <inheritdoc />
    public int Channels => Config.Channels;
    /// <inheritdoc />
    public string ConfigJson => Config.ToJson();
    /// <inheritdoc />
    public ConditioningWidths Conditioning => new(
        Config.HasContext || Config.T5PooledDimension > 0 ? Config.T5Dimension : 0, Config.HasContext ? Config.ClipTextDimension : 0,
        Config.ClipPooledDimension, Config.ClipImageDimension,
        Config.Streams.ToDictionary(c => c.Name, c => new ConditionerSlot(c.Tokens, c.Pooled, c.Channels)), Config.T5PooledDimension);
    /// <inheritdoc />
    public void Save(string folder, ScalarType? dtype = null) => UNetFiles.Save(this, folder, dtype);

    /// <summary>Builds a randomly initialised network of the given shape.</summary>
    public EDiffIUNet(UNetConfig config) : base("EDiffIUNet")
    {
        config.Validate();
        Config = config;
        int mc = config.ModelChannels, emb = config.EmbeddingChannels;
        int ctx = config.HasContext ? config.ContextDimension : 0;

        map_layer0 = new LinearLayer("map_layer0", mc, emb);
        map_layer1 = new LinearLayer("map_layer1", emb, emb);
        if (config.ClipPooledDimension > 0) map_clip_pooled = new LinearLayer("map_clip_pooled", config.ClipPooledDimension, emb);
        if (config.ClipImageDimension > 0) map_clip_image = new LinearLayer("map_clip_image", config.ClipImageDimension, emb);
        if (config.T5PooledDimension > 0) map_t5_pooled = new LinearLayer("map_t5_pooled", config.T5PooledDimension, emb);
        if (ctx > 0)
        {
            if (config.ClipTextDimension > 0) ctx_clip_text = new LinearLayer("ctx_clip_text", config.ClipTextDimension, ctx);
            if (config.T5Dimension > 0) ctx_t5 = new LinearLayer("ctx_t5", config.T5Dimension, ctx);
            if (config.ClipImageDimension > 0) ctx_clip_image = new LinearLayer("ctx_clip_image", config.ClipImageDimension, ctx);
            ctx_null = new Parameter(randn(ctx) * 0.02);
        }

        conv_in = new Conv2dLayer("conv_in", config.Channels, mc, 3);
        enc = new BlockSequence("enc");
        dec = new BlockSequence("dec");
        var shape = new BlockShape(config.SelfAttention, config.SkipScale);
        var skips = new List<int> { mc };
        int cout = mc;
        int levels = config.ChannelMultipliers.Length;
        for (int level = 0; level < levels; level++)
        {
            int res = config.Resolution >> level;
            if (level > 0)
            {
                enc.Add($"{res}x{res}_down", new UNetBlock($"enc.{res}x{res}_down", cout, cout, emb, res * 2, down: true, dropout: config.Dropout, shape: shape));
                skips.Add(cout);
            }
            for (int i = 0; i < config.BlocksAt(level); i++)
            {
                int cin = cout;
                cout = mc * config.ChannelMultipliers[level];
                bool attn = config.AttentionResolutions.Contains(res);
                enc.Add($"{res}x{res}_block{i}", new UNetBlock($"enc.{res}x{res}_block{i}", cin, cout, emb, res,
                    attention: attn, headChannels: config.HeadChannels, contextChannels: ctx, dropout: config.Dropout, shape: shape));
                skips.Add(cout);
            }
        }
        for (int level = levels - 1; level >= 0; level--)
        {
            int res = config.Resolution >> level;
            if (level == levels - 1)
            {
                dec.Add($"{res}x{res}_in0", new UNetBlock($"dec.{res}x{res}_in0", cout, cout, emb, res,
                    attention: true, headChannels: config.HeadChannels, contextChannels: ctx, dropout: config.Dropout, shape: shape));
                dec.Add($"{res}x{res}_in1", new UNetBlock($"dec.{res}x{res}_in1", cout, cout, emb, res, dropout: config.Dropout, shape: shape));
                _decoderTakesSkip.AddRange([false, false]);
            }
            else
            {
                dec.Add($"{res}x{res}_up", new UNetBlock($"dec.{res}x{res}_up", cout, cout, emb, res / 2, up: true, dropout: config.Dropout, shape: shape));
                _decoderTakesSkip.Add(false);
            }
            for (int i = 0; i <= config.BlocksAt(level); i++)
            {
                int cin = cout + skips[^1];
                skips.RemoveAt(skips.Count - 1);
                cout = mc * config.ChannelMultipliers[level];
                bool attn = config.AttentionResolutions.Contains(res);
                dec.Add($"{res}x{res}_block{i}", new UNetBlock($"dec.{res}x{res}_block{i}", cin, cout, emb, res,
                    attention: attn, headChannels: config.HeadChannels, contextChannels: ctx, dropout: config.Dropout, shape: shape));
                _decoderTakesSkip.Add(true);
            }
        }
        out_norm = new GroupNormLayer("out_norm", cout);
        out_conv = new Conv2dLayer("out_conv", cout, config.Channels, 3, Init.Zero);
        if (config.Streams.Length > 0)
        {
            streams = new StreamSlotSet("streams");
            foreach (var slot in config.Streams) streams.Add(new StreamSlot(slot, ctx, emb, mc));
        }
        RegisterComponents();
    }

    /// <inheritdoc />
    public IReadOnlyList<CrossAttentionLayer> CrossAttentionLayers =>
        Blocks().Select(b => b.CrossLayer).OfType<CrossAttentionLayer>().ToList();

    /// <inheritdoc />
    public void SetCrossAttentionProcessor(Func<CrossAttentionLayer, ICrossAttentionProcessor?> select)
    {
        foreach (var block in Blocks())
            if (block.CrossLayer is not null)
                block.Processor = select(block.CrossLayer) ?? DefaultCrossAttentionProcessor.Instance;
    }

    private IReadOnlyList<StreamSlot> Slots => streams?.Slots ?? [];

    /// <inheritdoc />
    public IReadOnlyDictionary<string, Parameter> StreamParameters(string name) =>
        named_parameters().Where(p => p.name.StartsWith($"streams.{name}.", StringComparison.Ordinal)).ToDictionary(p => p.name, p => p.parameter);

    private IEnumerable<UNetBlock> Blocks() => enc.Blocks.Concat(dec.Blocks);

    /// <inheritdoc />
    public Tensor Forward(Tensor xIn, Tensor sigma, Tensor cNoise, ConditioningInputs conditioning)
    {
        using var scope = NewDisposeScope();
        // Seamless tiling: circular padding in every convolution (nearest upsampling, 2×2 pooling, normalisation and
        // attention already commute with a cyclic shift of a periodic image of even size).
        using var wrap = PaddingScope.Enter(conditioning.Get<TilingMode>()?.Axes ?? TileAxes.None);
        var dtype = xIn.dtype;
        long batch = xIn.shape[0];
        var device = xIn.device;
        sigma = sigma.to(ScalarType.Float32, device).flatten(); // for the cross-attention processors (ω(σ) of paint-with-words)

        // Time embedding (EDM's DhariwalUNet mapping), plus eDiff-I's global conditioning.
        var emb = map_layer1.forward(F.silu(map_layer0.forward(NoiseEmbedding(cNoise, Config.ModelChannels).to(dtype))));
        // A dropped stream is a zero vector, exactly as conditioning dropout makes it in training.
        if (map_clip_pooled is not null)
            emb = emb + map_clip_pooled.forward(conditioning.ClipText?.Pooled?.to(dtype, device)
                                                ?? zeros(batch, Config.ClipPooledDimension, dtype: dtype, device: device));
        if (map_clip_image is not null)
            emb = emb + map_clip_image.forward(conditioning.ClipImage?.to(dtype, device)
                                               ?? zeros(batch, Config.ClipImageDimension, dtype: dtype, device: device));
        if (map_t5_pooled is not null)
            emb = emb + map_t5_pooled.forward(conditioning.T5Text is { } t5 ? MaskedMean(t5.Tokens, t5.Mask).to(dtype)
                                              : zeros(batch, Config.T5PooledDimension, dtype: dtype, device: device));
        // Generic slots: a stream the request does not carry is not fed at all.
        foreach (var slot in Slots)
            if (slot.Embedding(conditioning.Stream(slot.Config.Name), dtype, device) is { } extra) emb = emb + extra;
        emb = F.silu(emb);

        var (context, mask, layout) = BuildContext(conditioning, batch, dtype, device);
        var c = new BlockContext(emb, context, mask, layout, sigma, conditioning);

        // Channels-last execution where the fused kernels make it pay (CudaKernels.ChannelsLast); the output goes back to NCHW.
        bool channelsLast = CudaKernels.UseChannelsLast(xIn);
        var x = conv_in.forward(channelsLast ? CudaKernels.ToChannelsLast(xIn) : xIn);
        foreach (var slot in Slots)
            if (slot.Input(conditioning.Stream(slot.Config.Name), xIn.shape[2], xIn.shape[3], dtype, device) is { } map) x = x + map;
        var skips = new List<Tensor> { x };
        foreach (var block in enc.Blocks)
        {
            x = block.forward(x, c);
            skips.Add(x);
        }
        int i = 0;
        foreach (var block in dec.Blocks)
        {
            if (_decoderTakesSkip[i++])
            {
                x = cat([x, skips[^1]], 1);
                skips.RemoveAt(skips.Count - 1);
            }
            x = block.forward(x, c);
        }
        var output = out_conv.forward(out_norm.Forward(x, silu: true));
        if (channelsLast) output = output.contiguous();
        return output.MoveToOuterDisposeScope();
    }

    /// <summary>The mean of <paramref name="tokens"/> [B, L, D] over the positions <paramref name="mask"/> [B, L] keeps (zero where it keeps none).</summary>
    public static Tensor MaskedMean(Tensor tokens, Tensor mask)
    {
        using var scope = NewDisposeScope();
        var keep = mask.to(ScalarType.Float32, tokens.device).unsqueeze(-1);
        var sum = (tokens.to(ScalarType.Float32) * keep).sum(1);
        return (sum / keep.sum(1).clamp_min(1)).MoveToOuterDisposeScope();
    }

    /// <summary>Sinusoidal embedding of c_noise (EDM's PositionalEmbedding, max_positions 10000).</summary>
    private static Tensor NoiseEmbedding(Tensor cNoise, int channels)
    {
        int half = channels / 2;
        var freqs = arange(half, dtype: ScalarType.Float32, device: cNoise.device) / half;
        freqs = pow(1.0 / 10000, freqs);
        var x = cNoise.to(ScalarType.Float32).flatten().unsqueeze(1) * freqs.unsqueeze(0);
        return cat([x.cos(), x.sin()], 1);
    }

    /// <summary>
    /// The cross-attention context of eDiff-I: [CLIP text tokens, T5 tokens, CLIP image token, null token].
    /// A dropped stream contributes masked zero tokens (text) or a zero image embedding.
    /// </summary>
    private (Tensor?, Tensor?, ContextLayout?) BuildContext(ConditioningInputs c, long batch, ScalarType dtype, Device device)
    {
        if (ctx_null is null) return (null, null, null);
        var parts = new List<Tensor>();
        var masks = new List<Tensor>();
        int clipLen = AddTextStream(ctx_clip_text, c.ClipText, Config.ClipTextDimension, "CLIP text", batch, dtype, device, parts, masks);
        int t5Len = AddTextStream(ctx_t5, c.T5Text, Config.T5Dimension, "T5", batch, dtype, device, parts, masks);
        if (ctx_clip_image is not null)
        {
            var image = c.ClipImage ?? zeros(batch, Config.ClipImageDimension, dtype: dtype, device: device);
            parts.Add(ctx_clip_image.forward(image.to(dtype, device)).unsqueeze(1));
            masks.Add(ones(batch, 1, dtype: ScalarType.Bool, device: device));
        }
        int imageIndex = clipLen + t5Len;
        int nullIndex = ctx_clip_image is null ? imageIndex : imageIndex + 1;
        // Generic slots' tokens come after the built-in streams, before the null token.
        foreach (var slot in Slots)
            if (slot.Context(c.Stream(slot.Config.Name), batch, dtype, device) is var (tokens, tokenMask))
            {
                parts.Add(tokens);
                masks.Add(tokenMask);
                nullIndex += (int)tokens.shape[1];
            }
        parts.Add(ctx_null.to(dtype).view(1, 1, -1).expand(batch, 1, -1));
        masks.Add(ones(batch, 1, dtype: ScalarType.Bool, device: device));
        var layout = new ContextLayout(0, clipLen, clipLen, t5Len, ctx_clip_image is null ? -1 : imageIndex, nullIndex);
        return (cat(parts, 1), cat(masks, 1), layout);
    }

    /// <summary>Projects one text stream into the context (a dropped stream is one masked zero token); returns its length.</summary>
    private static int AddTextStream(LinearLayer? projection, TextEmbedding? text, int dim, string stream, long batch,
        ScalarType dtype, Device device, List<Tensor> parts, List<Tensor> masks)
    {
        if (projection is null) return 0;
        var t = text ?? TextEmbedding.Dropped(batch, 1, dim, null, dtype, device);
        if (t.Tokens.dim() != 3 || t.Tokens.shape[0] != batch || t.Tokens.shape[2] != dim)
            throw new ArgumentException(
                $"{stream} tokens have shape [{string.Join(", ", t.Tokens.shape)}], the network expects [{batch}, L, {dim}]");
        parts.Add(projection.forward(t.Tokens.to(dtype, device)));
        masks.Add(t.Mask.to(device));
        return (int)t.Length;
    }
}
