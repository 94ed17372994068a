using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;
using EDiffI.Networks;

namespace EDiffI.Plugins.T5;

// The pieces of a T5 block, named after the tensors of Hugging Face checkpoints so that state-dict
// keys equal checkpoint keys. Weights are allocated uninitialised in the requested dtype and device
// (a checkpoint overwrites them; T5Init fills them for training), so a 4.7B-parameter XXL encoder
// never exists as random float32 first. T5 has no biases and no 1/√d attention scaling (folded into
// the initialisation of q).

/// <summary>The feed-forward activations a T5 config can name (transformers' ACT2FN names).</summary>
public static class T5Activations
{
    /// <summary>The supported names.</summary>
    public static IReadOnlyList<string> Names { get; } = ["gelu_new", "gelu_pytorch_tanh", "gelu", "relu", "silu", "swish"];

    /// <summary>Whether <paramref name="name"/> is supported.</summary>
    public static bool IsKnown(string name) => Names.Contains(name);

    /// <summary>Applies the activation <paramref name="name"/>.</summary>
    public static Tensor Apply(string name, Tensor x) => name switch
    {
        // gelu_new: the tanh approximation, 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), as in transformers.
        // Written with held Scalars (HeldScalars): the encoders run on training data threads.
        "gelu_new" or "gelu_pytorch_tanh" => GeluTanh(x),
        "gelu" => F.gelu(x),
        "relu" => F.relu(x),
        "silu" or "swish" => F.silu(x),
        _ => throw new ArgumentException($"unknown T5 activation '{name}'"),
    };

    private static Tensor GeluTanh(Tensor x)
    {
        using var scope = NewDisposeScope();
        var inner = x.pow(HeldScalars.Of(3)).mul(HeldScalars.Of(0.044715)).Plus(x).mul(HeldScalars.Of(Math.Sqrt(2.0 / Math.PI)));
        return tanh(inner).add(HeldScalars.One, HeldScalars.One).mul(x).mul(HeldScalars.Of(0.5)).MoveToOuterDisposeScope();
    }
}

/// <summary>Where and in what dtype a T5 module's weights live.</summary>
/// <param name="DType">Parameter dtype.</param>
/// <param name="Device">Parameter device.</param>
public readonly record struct T5Placement(ScalarType DType, Device Device)
{
    /// <summary>float32 on the CPU.</summary>
    public static T5Placement Cpu => new(ScalarType.Float32, CPU);

    internal Parameter Empty(params long[] shape) => new(empty(shape, dtype: DType, device: Device));
}

/// <summary>A linear map without bias: y = x·Wᵀ.</summary>
internal sealed class T5Linear : nn.Module<Tensor, Tensor>
{
    private readonly Parameter weight;

    public T5Linear(string name, long inFeatures, long outFeatures, T5Placement at) : base(name)
    {
        weight = at.Empty(outFeatures, inFeatures);
        RegisterComponents();
    }

    public Parameter Weight => weight;

    public override Tensor forward(Tensor x) => F.linear(x, weight);
}

/// <summary>An embedding table.</summary>
internal sealed class T5Embedding : nn.Module<Tensor, Tensor>
{
    private readonly Parameter weight;

    public T5Embedding(string name, long count, long dimension, T5Placement at) : base(name)
    {
        weight = at.Empty(count, dimension);
        RegisterComponents();
    }

    public Parameter Weight => weight;

    public override Tensor forward(Tensor ids)
    {
        var shape = ids.shape.Append(weight.shape[1]).ToArray();
        using var flat = ids.flatten();
        using var rows = weight.index_select(0, flat);
        return rows.view(shape);
    }
}

/// <summary>T5LayerNorm: RMS norm without mean subtraction or bias, variance in float32.</summary>
internal sealed class T5LayerNorm : nn.Module<Tensor, Tensor>
{
    private readonly Parameter weight;
    private readonly Scalar _eps; // held: see HeldScalars

    public T5LayerNorm(string name, long dimension, double eps, T5Placement at) : base(name)
    {
        weight = at.Empty(dimension);
        _eps = eps;
        RegisterComponents();
    }

    public Parameter Weight => weight;

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var x32 = x.to(ScalarType.Float32);
        var variance = x32.pow(2).mean([-1], keepdim: true);
        var normed = x32 * rsqrt(variance.add(_eps, HeldScalars.One));
        if (weight.dtype is ScalarType.Float16 or ScalarType.BFloat16) normed = normed.to(weight.dtype);
        return (weight * normed).MoveToOuterDisposeScope();
    }
}

/// <summary>T5 multi-head attention; the first layer of a stack also holds the relative position bias table.</summary>
internal sealed class T5Attention : nn.Module<Tensor, Tensor?, Tensor, Tensor>
{
    private readonly T5Linear q, k, v, o;
    private readonly T5Embedding? relative_attention_bias;
    private readonly int _heads, _dKv, _buckets, _maxDistance;
    private readonly bool _bidirectional;

    // The buckets depend only on the lengths (and the device), so they are computed once per pair: encoding a batch in
    // training's data thread then makes no small integer tensors at all (and no scalar conversions, each a native call).
    private readonly System.Collections.Concurrent.ConcurrentDictionary<(long Query, long Key, string Device), Tensor> _bucketCache = new();

    public T5Attention(string name, T5Config c, bool hasRelativeBias, bool bidirectional, T5Placement at) : base(name)
    {
        int inner = c.NumHeads * c.DKv;
        q = new T5Linear("q", c.DModel, inner, at);
        k = new T5Linear("k", c.DModel, inner, at);
        v = new T5Linear("v", c.DModel, inner, at);
        o = new T5Linear("o", inner, c.DModel, at);
        if (hasRelativeBias) relative_attention_bias = new T5Embedding("relative_attention_bias", c.RelativeAttentionNumBuckets, c.NumHeads, at);
        (_heads, _dKv, _buckets, _maxDistance, _bidirectional) = (c.NumHeads, c.DKv, c.RelativeAttentionNumBuckets, c.RelativeAttentionMaxDistance, bidirectional);
        RegisterComponents();
    }

    public IEnumerable<T5Linear> Projections => [q, k, v, o];

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            foreach (var bucket in _bucketCache.Values) bucket.Dispose();
            _bucketCache.Clear();
        }
        base.Dispose(disposing);
    }
    public T5Embedding? RelativeBias => relative_attention_bias;

    /// <summary>
    /// Bucket of each relative position (key − query), as Raffel et al. 2020 §2.1 and transformers'
    /// _relative_position_bucket: half the buckets exact for small distances, the rest logarithmic up
    /// to max_distance; bidirectional attention splits the buckets by sign, causal attention sees only the past.
    /// </summary>
    public static Tensor RelativePositionBucket(Tensor relative, bool bidirectional, int numBuckets, int maxDistance)
    {
        using var scope = NewDisposeScope();
        var buckets = zeros_like(relative);
        if (bidirectional)
        {
            numBuckets /= 2;
            buckets = buckets + relative.gt(0).to(ScalarType.Int64) * numBuckets;
            relative = relative.abs();
        }
        else
        {
            relative = -relative.clamp_max(0);
        }
        int maxExact = numBuckets / 2;
        var isSmall = relative.lt(maxExact);
        var large = maxExact + (relative.to(ScalarType.Float32).clamp_min(1) / maxExact).log()
            .div(Math.Log((double)maxDistance / maxExact)).mul(numBuckets - maxExact).to(ScalarType.Int64);
        large = large.clamp_max(numBuckets - 1);
        return (buckets + where(isSmall, relative, large)).MoveToOuterDisposeScope();
    }

    /// <summary>The position bias [1, H, Lq, Lk] from the bucket table.</summary>
    public Tensor ComputeBias(long queryLength, long keyLength)
    {
        if (relative_attention_bias is null) throw new InvalidOperationException("only the first layer of a T5 stack holds the relative position bias");
        using var scope = NewDisposeScope();
        var device = relative_attention_bias.Weight.device;
        var bucket = _bucketCache.GetOrAdd((queryLength, keyLength, device.ToString()), key =>
        {
            using var inner = NewDisposeScope();
            var context = arange(key.Query, dtype: ScalarType.Int64, device: device).unsqueeze(1);
            var memory = arange(key.Key, dtype: ScalarType.Int64, device: device).unsqueeze(0);
            return RelativePositionBucket(memory - context, _bidirectional, _buckets, _maxDistance).DetachFromDisposeScope();
        });
        return relative_attention_bias.forward(bucket).permute(2, 0, 1).unsqueeze(0).MoveToOuterDisposeScope();
    }

    /// <summary>Attention of <paramref name="x"/> over <paramref name="keyValue"/> (itself when null), plus the position bias (mask included).</summary>
    public override Tensor forward(Tensor x, Tensor? keyValue, Tensor positionBias)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0], lq = x.shape[1];
        var kv = keyValue ?? x;
        long lk = kv.shape[1];
        var qh = q.forward(x).view(b, lq, _heads, _dKv).transpose(1, 2);
        var kh = k.forward(kv).view(b, lk, _heads, _dKv).transpose(1, 2);
        var vh = v.forward(kv).view(b, lk, _heads, _dKv).transpose(1, 2);
        // No 1/√d_kv: T5 folds it into the initialisation of q.
        var scores = matmul(qh, kh.transpose(2, 3)).Plus(positionBias);
        var weights = F.softmax(scores.to(ScalarType.Float32), -1).to(scores.dtype);
        var context = matmul(weights, vh).transpose(1, 2).reshape(b, lq, _heads * _dKv);
        return o.forward(context).MoveToOuterDisposeScope();
    }
}

/// <summary>The feed-forward layer: gated (wi_0, wi_1, wo) in T5 v1.1, plain (wi, wo) in the original T5.</summary>
internal sealed class T5DenseActDense : nn.Module<Tensor, Tensor>
{
    private readonly T5Linear? wi, wi_0, wi_1;
    private readonly T5Linear wo;
    private readonly string _act;

    public T5DenseActDense(string name, T5Config c, T5Placement at) : base(name)
    {
        if (c.IsGated)
        {
            wi_0 = new T5Linear("wi_0", c.DModel, c.DFf, at);
            wi_1 = new T5Linear("wi_1", c.DModel, c.DFf, at);
        }
        else
        {
            wi = new T5Linear("wi", c.DModel, c.DFf, at);
        }
        wo = new T5Linear("wo", c.DFf, c.DModel, at);
        _act = c.DenseActFn;
        RegisterComponents();
    }

    public IEnumerable<T5Linear> Inputs => new[] { wi, wi_0, wi_1 }.OfType<T5Linear>();
    public T5Linear Output => wo;

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var h = wi is not null
            ? T5Activations.Apply(_act, wi.forward(x))
            : T5Activations.Apply(_act, wi_0!.forward(x)) * wi_1!.forward(x);
        return wo.forward(h).MoveToOuterDisposeScope();
    }
}

/// <summary>layer.0 of a block: pre-norm self-attention with a residual.</summary>
internal sealed class T5LayerSelfAttention : nn.Module<Tensor, Tensor, Tensor>
{
    private readonly T5Attention SelfAttention;
    private readonly T5LayerNorm layer_norm;

    public T5LayerSelfAttention(string name, T5Config c, bool hasRelativeBias, bool bidirectional, T5Placement at) : base(name)
    {
        SelfAttention = new T5Attention("SelfAttention", c, hasRelativeBias, bidirectional, at);
        layer_norm = new T5LayerNorm("layer_norm", c.DModel, c.LayerNormEpsilon, at);
        RegisterComponents();
    }

    public T5Attention Attention => SelfAttention;
    public T5LayerNorm Norm => layer_norm;

    public override Tensor forward(Tensor x, Tensor positionBias)
    {
        using var normed = layer_norm.forward(x);
        using var attended = SelfAttention.forward(normed, null, positionBias);
        return x.Plus(attended);
    }
}

/// <summary>layer.1 of a decoder block: pre-norm attention over the encoder's output with a residual.</summary>
internal sealed class T5LayerCrossAttention : nn.Module<Tensor, Tensor, Tensor, Tensor>
{
    private readonly T5Attention EncDecAttention;
    private readonly T5LayerNorm layer_norm;

    public T5LayerCrossAttention(string name, T5Config c, T5Placement at) : base(name)
    {
        EncDecAttention = new T5Attention("EncDecAttention", c, hasRelativeBias: false, bidirectional: true, at);
        layer_norm = new T5LayerNorm("layer_norm", c.DModel, c.LayerNormEpsilon, at);
        RegisterComponents();
    }

    public T5Attention Attention => EncDecAttention;
    public T5LayerNorm Norm => layer_norm;

    public override Tensor forward(Tensor x, Tensor encoded, Tensor encoderBias)
    {
        using var normed = layer_norm.forward(x);
        using var attended = EncDecAttention.forward(normed, encoded, encoderBias);
        return x.Plus(attended);
    }
}

/// <summary>The last layer of a block: pre-norm feed-forward with a residual.</summary>
internal sealed class T5LayerFF : nn.Module<Tensor, Tensor>
{
    private readonly T5DenseActDense DenseReluDense;
    private readonly T5LayerNorm layer_norm;

    public T5LayerFF(string name, T5Config c, T5Placement at) : base(name)
    {
        DenseReluDense = new T5DenseActDense("DenseReluDense", c, at);
        layer_norm = new T5LayerNorm("layer_norm", c.DModel, c.LayerNormEpsilon, at);
        RegisterComponents();
    }

    public T5DenseActDense Dense => DenseReluDense;
    public T5LayerNorm Norm => layer_norm;

    public override Tensor forward(Tensor x)
    {
        using var normed = layer_norm.forward(x);
        using var h = DenseReluDense.forward(normed);
        return x.Plus(h);
    }
}
