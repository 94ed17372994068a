using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

using EDiffI.Networks;

namespace EDiffI.Plugins.Clip;

// The transformer both CLIP towers share (Radford et al. 2021, §2.4; Hugging Face's CLIPEncoder).
// Field names are the Hugging Face state-dict keys, so checkpoints load by name.

/// <summary>Multi-head self-attention with an optional additive bias (causal and padding masks).</summary>
internal sealed class ClipAttention : nn.Module
{
    private readonly Linear q_proj;
    private readonly Linear k_proj;
    private readonly Linear v_proj;
    private readonly Linear out_proj;
    private readonly int _heads;

    public ClipAttention(string name, int width, int heads) : base(name)
    {
        _heads = heads;
        q_proj = nn.Linear(width, width);
        k_proj = nn.Linear(width, width);
        v_proj = nn.Linear(width, width);
        out_proj = nn.Linear(width, width);
        RegisterComponents();
    }

    /// <summary>x [B, L, D]; <paramref name="bias"/> broadcasts to [B, heads, L, L] (0 where allowed, very negative where not).</summary>
    public Tensor forward(Tensor x, Tensor? bias)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0], l = x.shape[1], d = x.shape[2], hd = d / _heads;
        Tensor Heads(Tensor t) => t.view(b, l, _heads, hd).transpose(1, 2);
        var q = Heads(q_proj.forward(x));
        var k = Heads(k_proj.forward(x));
        var v = Heads(v_proj.forward(x));
        // softmax(q kᵀ / √d_head + bias) v
        var scores = q.matmul(k.transpose(-2, -1)) * (1.0 / Math.Sqrt(hd));
        if (bias is not null) scores = scores.Plus(bias); // held Scalars (HeldScalars): encoders run on data threads
        var attention = scores.softmax(-1, ScalarType.Float32).to(q.dtype);
        var y = attention.matmul(v).transpose(1, 2).reshape(b, l, d);
        return out_proj.forward(y).MoveToOuterDisposeScope();
    }
}

/// <summary>The position-wise MLP: fc1, activation, fc2.</summary>
internal sealed class ClipMlp : nn.Module<Tensor, Tensor>
{
    private readonly Linear fc1;
    private readonly Linear fc2;
    private readonly string _activation;

    public ClipMlp(string name, int width, int hidden, string activation) : base(name)
    {
        _activation = activation;
        fc1 = nn.Linear(width, hidden);
        fc2 = nn.Linear(hidden, width);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return fc2.forward(Activate(fc1.forward(x), _activation)).MoveToOuterDisposeScope();
    }

    /// <summary>The activations Hugging Face's config names (hidden_act).</summary>
    public static Tensor Activate(Tensor x, string name) => name switch
    {
        // CLIP's sigmoid approximation of GELU: x σ(1.702 x).
        "quick_gelu" => x * x.mul(HeldScalars.Of(1.702)).sigmoid(),
        "gelu" => F.gelu(x),
        "gelu_new" or "gelu_pytorch_tanh" => F.gelu(x, GELU.Approximate.tanh),
        _ => throw new ArgumentException($"unsupported activation '{name}'"),
    };
}

/// <summary>A pre-norm transformer layer: x + attn(ln1(x)), then x + mlp(ln2(x)).</summary>
internal sealed class ClipEncoderLayer : nn.Module
{
    private readonly ClipAttention self_attn;
    private readonly LayerNorm layer_norm1;
    private readonly ClipMlp mlp;
    private readonly LayerNorm layer_norm2;

    public ClipEncoderLayer(string name, int width, int heads, int hidden, string activation, double eps) : base(name)
    {
        self_attn = new ClipAttention("self_attn", width, heads);
        layer_norm1 = nn.LayerNorm(width, eps);
        mlp = new ClipMlp("mlp", width, hidden, activation);
        layer_norm2 = nn.LayerNorm(width, eps);
        RegisterComponents();
    }

    public Tensor forward(Tensor x, Tensor? bias)
    {
        using var scope = NewDisposeScope();
        x = x.Plus(self_attn.forward(layer_norm1.forward(x), bias));
        x = x.Plus(mlp.forward(layer_norm2.forward(x)));
        return x.MoveToOuterDisposeScope();
    }
}

/// <summary>The stack of layers (Hugging Face's CLIPEncoder: <c>layers.N.*</c>).</summary>
internal sealed class ClipEncoder : nn.Module
{
    private readonly ModuleList<ClipEncoderLayer> layers;

    public ClipEncoder(string name, int layerCount, int width, int heads, int hidden, string activation, double eps) : base(name)
    {
        layers = new ModuleList<ClipEncoderLayer>(Enumerable.Range(0, layerCount)
            .Select(i => new ClipEncoderLayer($"{i}", width, heads, hidden, activation, eps)).ToArray());
        RegisterComponents();
    }

    public Tensor forward(Tensor x, Tensor? bias)
    {
        using var scope = NewDisposeScope();
        foreach (var layer in layers) x = layer.forward(x, bias);
        return x.MoveToOuterDisposeScope();
    }
}
