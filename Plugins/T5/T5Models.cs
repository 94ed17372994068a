using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;
using EDiffI.Networks;

namespace EDiffI.Plugins.T5;

/// <summary>One T5 block: self-attention, cross-attention (decoder only), feed-forward, each pre-norm with a residual.</summary>
internal sealed class T5Block : nn.Module<Tensor, Tensor, Tensor?, Tensor?, Tensor>
{
    private readonly ModuleList<nn.Module> layer;

    public T5Block(string name, T5Config c, bool isDecoder, bool hasRelativeBias, T5Placement at) : base(name)
    {
        layer = new ModuleList<nn.Module>(new T5LayerSelfAttention("0", c, hasRelativeBias, bidirectional: !isDecoder, at));
        if (isDecoder) layer.Add(new T5LayerCrossAttention("1", c, at));
        layer.Add(new T5LayerFF(isDecoder ? "2" : "1", c, at));
        RegisterComponents();
    }

    public T5LayerSelfAttention Self => (T5LayerSelfAttention)layer[0];
    public T5LayerCrossAttention? Cross => layer.Count == 3 ? (T5LayerCrossAttention)layer[1] : null;
    public T5LayerFF FeedForward => (T5LayerFF)layer[^1];

    public override Tensor forward(Tensor x, Tensor selfBias, Tensor? encoded, Tensor? crossBias)
    {
        using var scope = NewDisposeScope();
        x = ClampHalf(Self.forward(x, selfBias));
        if (Cross is { } cross) x = ClampHalf(cross.forward(x, encoded!, crossBias!));
        return ClampHalf(FeedForward.forward(x)).MoveToOuterDisposeScope();
    }

    // In float16 T5's activations can overflow; transformers clamps them just below the maximum.
    private static Tensor ClampHalf(Tensor x) =>
        x.dtype == ScalarType.Float16 && x.isinf().any().item<bool>() ? x.clamp(-65504.0 + 1000, 65504.0 - 1000) : x;
}

/// <summary>A stack of T5 blocks and the final norm (the encoder or the decoder).</summary>
internal sealed class T5Stack : nn.Module<Tensor, Tensor, Tensor?, Tensor?, Tensor>
{
    private readonly ModuleList<T5Block> block;
    private readonly T5LayerNorm final_layer_norm;
    private readonly bool _isDecoder;

    public T5Stack(string name, T5Config c, bool isDecoder, T5Placement at) : base(name)
    {
        int layers = isDecoder ? c.NumDecoderLayers : c.NumLayers;
        // Only the first block holds the relative position bias table; every block reuses its bias.
        block = new ModuleList<T5Block>(Enumerable.Range(0, layers)
            .Select(i => new T5Block(i.ToString(), c, isDecoder, hasRelativeBias: i == 0, at)).ToArray());
        final_layer_norm = new T5LayerNorm("final_layer_norm", c.DModel, c.LayerNormEpsilon, at);
        _isDecoder = isDecoder;
        RegisterComponents();
    }

    public IEnumerable<T5Block> Blocks => block;
    public T5LayerNorm FinalNorm => final_layer_norm;

    /// <summary>Hidden states after the final norm from embeddings [B, L, D] and a padding mask [B, L] (true = real token).</summary>
    public override Tensor forward(Tensor embeddings, Tensor mask, Tensor? encoded, Tensor? encoderMask)
    {
        using var scope = NewDisposeScope();
        long length = embeddings.shape[1];
        var dtype = embeddings.dtype;
        var bias = block[0].Self.Attention.ComputeBias(length, length).to(dtype);
        var keep = mask.to(ScalarType.Bool).unsqueeze(1).unsqueeze(1); // [B, 1, 1, Lk]
        if (_isDecoder) keep = keep.logical_and(ones(length, length, dtype: ScalarType.Bool, device: mask.device).tril());
        var selfBias = bias.Plus(Blocked(keep, dtype));
        Tensor? crossBias = encoderMask is null ? null : Blocked(encoderMask.to(ScalarType.Bool).unsqueeze(1).unsqueeze(1), dtype);
        var x = embeddings;
        foreach (var b in block) x = b.forward(x, selfBias, encoded, crossBias);
        return final_layer_norm.forward(x).MoveToOuterDisposeScope();
    }

    // 0 where attention is allowed, the dtype's lowest value where it is not (transformers' extended mask).
    private static Tensor Blocked(Tensor keep, ScalarType dtype) =>
        keep.logical_not().to(dtype).mul(HeldScalars.Of(LowestValue(dtype)));

    internal static double LowestValue(ScalarType dtype) => dtype switch
    {
        ScalarType.Float16 => -65504.0,
        ScalarType.BFloat16 => -3.3895313892515355e38,
        ScalarType.Float64 => double.MinValue,
        _ => float.MinValue,
    };
}

/// <summary>Common parts of the T5 models: the shared embedding, the encoder, moving and initialising.</summary>
public abstract class T5Model : nn.Module
{
    /// <summary>Builds the module tree with uninitialised weights placed as <paramref name="at"/> says.</summary>
    protected T5Model(string name, T5Config config) : base(name) => Config = config;

    /// <summary>The architecture.</summary>
    public T5Config Config { get; }

    internal abstract T5Embedding Shared { get; }
    internal abstract T5Stack Encoder { get; }

    /// <summary>dtype of the weights.</summary>
    public ScalarType DType => Shared.Weight.dtype;

    /// <summary>Device of the weights.</summary>
    public Device Device => Shared.Weight.device;

    /// <summary>The encoder's last hidden state [B, L, D] for token ids [B, L] and a padding mask [B, L] (nonzero = real token).</summary>
    public Tensor Encode(Tensor inputIds, Tensor attentionMask)
    {
        using var scope = NewDisposeScope();
        var embeddings = Shared.forward(inputIds.to(Device));
        return Encoder.forward(embeddings, attentionMask.to(Device), null, null).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Fills the weights as transformers' T5PreTrainedModel._init_weights does (factor 1): embeddings
    /// N(0, 1); q N(0, (d_model·d_kv)^−½); k, v and the bias table N(0, d_model^−½); o N(0, (H·d_kv)^−½);
    /// wi N(0, d_model^−½); wo N(0, d_ff^−½); norms 1.
    /// </summary>
    public void InitializeWeights(Generator? generator = null)
    {
        var c = Config;
        using var noGrad = no_grad();
        void Normal(Tensor w, double std) => w.normal_(0, std, generator);
        Normal(Shared.Weight, 1.0);
        foreach (var m in modules())
        {
            switch (m)
            {
                case T5Attention a:
                    var p = a.Projections.ToArray();
                    Normal(p[0].Weight, Math.Pow(c.DModel * c.DKv, -0.5));
                    Normal(p[1].Weight, Math.Pow(c.DModel, -0.5));
                    Normal(p[2].Weight, Math.Pow(c.DModel, -0.5));
                    Normal(p[3].Weight, Math.Pow(c.NumHeads * c.DKv, -0.5));
                    if (a.RelativeBias is { } bias) Normal(bias.Weight, Math.Pow(c.DModel, -0.5));
                    break;
                case T5DenseActDense d:
                    foreach (var wi in d.Inputs) Normal(wi.Weight, Math.Pow(c.DModel, -0.5));
                    Normal(d.Output.Weight, Math.Pow(c.DFf, -0.5));
                    break;
                case T5LayerNorm n:
                    n.Weight.fill_(1.0);
                    break;
            }
        }
        InitializeHead(generator);
    }

    /// <summary>Initialises weights a subclass adds beyond the encoder.</summary>
    protected virtual void InitializeHead(Generator? generator) { }

    /// <summary>Number of parameters.</summary>
    public long ParameterCount => parameters().Sum(p => p.numel());
}

/// <summary>The T5 encoder (transformers' T5EncoderModel): tensors shared.* and encoder.*.</summary>
public sealed class T5EncoderModel : T5Model
{
    private readonly T5Embedding shared;
    private readonly T5Stack encoder;

    /// <summary>Builds the encoder with uninitialised weights (load a checkpoint or call <see cref="T5Model.InitializeWeights"/>).</summary>
    public T5EncoderModel(T5Config config, T5Placement? at = null) : base("T5EncoderModel", config)
    {
        var place = at ?? T5Placement.Cpu;
        shared = new T5Embedding("shared", config.VocabSize, config.DModel, place);
        encoder = new T5Stack("encoder", config, isDecoder: false, place);
        RegisterComponents();
    }

    internal override T5Embedding Shared => shared;
    internal override T5Stack Encoder => encoder;
}

/// <summary>The T5 encoder-decoder (transformers' T5ForConditionalGeneration) for span-corruption training.</summary>
public sealed class T5ForConditionalGeneration : T5Model
{
    private readonly T5Embedding shared;
    private readonly T5Stack encoder;
    private readonly T5Stack decoder;
    private readonly T5Linear? lm_head;

    /// <summary>Builds the model with uninitialised weights; the head is the embedding table when the config ties them.</summary>
    public T5ForConditionalGeneration(T5Config config, T5Placement? at = null) : base("T5ForConditionalGeneration", config)
    {
        var place = at ?? T5Placement.Cpu;
        shared = new T5Embedding("shared", config.VocabSize, config.DModel, place);
        encoder = new T5Stack("encoder", config, isDecoder: false, place);
        decoder = new T5Stack("decoder", config, isDecoder: true, place);
        if (!config.TieWordEmbeddings) lm_head = new T5Linear("lm_head", config.DModel, config.VocabSize, place);
        RegisterComponents();
    }

    internal override T5Embedding Shared => shared;
    internal override T5Stack Encoder => encoder;

    /// <summary>The encoder's parameters (what is shipped after pre-training).</summary>
    public IEnumerable<(string Name, Tensor Value)> EncoderState() =>
        state_dict().Where(kv => kv.Key.StartsWith("shared.", StringComparison.Ordinal) || kv.Key.StartsWith("encoder.", StringComparison.Ordinal))
            .Select(kv => (kv.Key, kv.Value));

    /// <inheritdoc />
    protected override void InitializeHead(Generator? generator)
    {
        using var noGrad = no_grad();
        lm_head?.Weight.normal_(0, 1.0, generator);
    }

    /// <summary>
    /// Teacher-forced logits [B, T, V] for <paramref name="labels"/> [B, T] (−100 = ignored), with the
    /// decoder fed the labels shifted right after the start token; and the mean cross-entropy over the
    /// non-ignored labels.
    /// </summary>
    public (Tensor Logits, Tensor Loss) Forward(Tensor inputIds, Tensor attentionMask, Tensor labels)
    {
        using var scope = NewDisposeScope();
        var device = Device;
        labels = labels.to(device);
        var mask = attentionMask.to(device);
        var encoded = Encode(inputIds, mask);
        var decoderInput = ShiftRight(labels);
        var decoded = decoder.forward(shared.forward(decoderInput), ones_like(decoderInput, dtype: ScalarType.Bool), encoded, mask);
        if (Config.ScalesDecoderOutput) decoded = decoded * Math.Pow(Config.DModel, -0.5);
        var logits = lm_head is not null ? lm_head.forward(decoded) : F.linear(decoded, shared.Weight);
        var loss = F.cross_entropy(logits.view(-1, logits.shape[^1]).to(ScalarType.Float32), labels.view(-1), ignore_index: -100);
        return (logits.MoveToOuterDisposeScope(), loss.MoveToOuterDisposeScope());
    }

    /// <summary>The decoder's input: the start token, then the labels without their last element (−100 as padding).</summary>
    public Tensor ShiftRight(Tensor labels)
    {
        using var scope = NewDisposeScope();
        var start = full(labels.shape[0], 1, Config.DecoderStartTokenId, dtype: ScalarType.Int64, device: labels.device);
        var shifted = cat([start, labels.narrow(1, 0, labels.shape[1] - 1)], 1);
        return shifted.masked_fill(shifted.eq(-100), Config.PadTokenId).MoveToOuterDisposeScope();
    }
}
