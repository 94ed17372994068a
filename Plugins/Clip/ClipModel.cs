using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

using EDiffI.Networks;

namespace EDiffI.Plugins.Clip;

/// <summary>Token and position embeddings of the text tower (<c>text_model.embeddings.*</c>).</summary>
internal sealed class ClipTextEmbeddings : nn.Module<Tensor, Tensor>
{
    private readonly Embedding token_embedding;
    private readonly Embedding position_embedding;

    public ClipTextEmbeddings(string name, ClipTextConfig c) : base(name)
    {
        token_embedding = nn.Embedding(c.VocabSize, c.HiddenSize);
        position_embedding = nn.Embedding(c.MaxPositions, c.HiddenSize);
        nn.init.normal_(token_embedding.weight, 0, 0.02);
        nn.init.normal_(position_embedding.weight, 0, 0.01);
        RegisterComponents();
    }

    public override Tensor forward(Tensor ids)
    {
        using var scope = NewDisposeScope();
        var positions = arange(ids.shape[1], dtype: ScalarType.Int64, device: ids.device);
        return token_embedding.forward(ids).Plus(position_embedding.forward(positions).unsqueeze(0)).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// CLIP's text tower (Hugging Face CLIPTextTransformer): embeddings, a causally masked pre-norm
/// transformer, a final layer norm, and the pooled output at the end-of-text token.
/// </summary>
internal sealed class ClipTextTransformer : nn.Module
{
    private readonly ClipTextEmbeddings embeddings;
    private readonly ClipEncoder encoder;
    private readonly LayerNorm final_layer_norm;
    private readonly ClipTextConfig _config;

    public ClipTextTransformer(string name, ClipTextConfig c) : base(name)
    {
        _config = c;
        embeddings = new ClipTextEmbeddings("embeddings", c);
        encoder = new ClipEncoder("encoder", c.Layers, c.HiddenSize, c.Heads, c.IntermediateSize, c.HiddenAct, c.LayerNormEps);
        final_layer_norm = nn.LayerNorm(c.HiddenSize, c.LayerNormEps);
        RegisterComponents();
    }

    /// <summary>
    /// ids [B, L] (int64), mask [B, L] (true at real tokens, or null for none) → last hidden state
    /// [B, L, D] and pooled output [B, D].
    /// </summary>
    public (Tensor Hidden, Tensor Pooled) forward(Tensor ids, Tensor? mask)
    {
        using var scope = NewDisposeScope();
        long l = ids.shape[1];
        if (l > _config.MaxPositions)
            throw new ArgumentException($"{l} tokens exceed the text tower's {_config.MaxPositions} positions");
        var x = embeddings.forward(ids);
        // A token sees itself and earlier tokens (causal), and never padding (Hugging Face adds both masks).
        var allowed = ones(l, l, dtype: ScalarType.Bool, device: ids.device).tril().unsqueeze(0).unsqueeze(0);
        if (mask is not null) allowed = allowed.logical_and(mask.to(ScalarType.Bool).view(ids.shape[0], 1, 1, l));
        double blocked = x.dtype == ScalarType.Float32 || x.dtype == ScalarType.Float64 ? -1e30 : -6e4;
        var bias = zeros(allowed.shape, dtype: x.dtype, device: x.device).masked_fill(allowed.logical_not(), blocked);
        var hidden = final_layer_norm.forward(encoder.forward(x, bias));
        var pooled = hidden[arange(ids.shape[0], device: ids.device), EndOfText(ids, _config.EosTokenId)];
        return (hidden.MoveToOuterDisposeScope(), pooled.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// Where each prompt is pooled (Hugging Face's rule): the legacy configurations with
    /// eos_token_id 2 take the largest id (the end token has the largest id in OpenAI's vocabulary);
    /// all others the first position holding eos_token_id.
    /// </summary>
    public static Tensor EndOfText(Tensor ids, int eosTokenId) =>
        eosTokenId == 2 ? ids.argmax(-1) : ids.eq(eosTokenId).to(ScalarType.Int32).argmax(-1);
}

/// <summary>Patch, class and position embeddings of the vision tower (<c>vision_model.embeddings.*</c>).</summary>
internal sealed class ClipVisionEmbeddings : nn.Module<Tensor, Tensor>
{
    private readonly Parameter class_embedding;
    private readonly Conv2d patch_embedding;
    private readonly Embedding position_embedding;

    public ClipVisionEmbeddings(string name, ClipVisionConfig c) : base(name)
    {
        class_embedding = new Parameter(randn(c.HiddenSize) * Math.Pow(c.HiddenSize, -0.5));
        patch_embedding = nn.Conv2d(c.Channels, c.HiddenSize, c.PatchSize, stride: c.PatchSize, bias: false);
        position_embedding = nn.Embedding(c.PatchesPerSide * c.PatchesPerSide + 1, c.HiddenSize);
        nn.init.normal_(position_embedding.weight, 0, 0.02);
        RegisterComponents();
    }

    public override Tensor forward(Tensor pixels)
    {
        using var scope = NewDisposeScope();
        long b = pixels.shape[0];
        var patches = patch_embedding.forward(pixels.to(patch_embedding.weight.dtype)).flatten(2).transpose(1, 2);
        var cls = class_embedding.to(patches.dtype).view(1, 1, -1).expand(b, 1, -1);
        var x = torch.cat([cls, patches], 1);
        var positions = arange(x.shape[1], dtype: ScalarType.Int64, device: x.device);
        return x.Plus(position_embedding.forward(positions).unsqueeze(0)).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// CLIP's vision tower (Hugging Face CLIPVisionTransformer): a ViT with a class token, a layer norm
/// before the encoder (<c>pre_layrnorm</c>, sic) and one on the pooled class token after it.
/// </summary>
internal sealed class ClipVisionTransformer : nn.Module
{
    private readonly ClipVisionEmbeddings embeddings;
    private readonly LayerNorm pre_layrnorm;
    private readonly ClipEncoder encoder;
    private readonly LayerNorm post_layernorm;
    private readonly ClipVisionConfig _config;

    public ClipVisionTransformer(string name, ClipVisionConfig c) : base(name)
    {
        _config = c;
        embeddings = new ClipVisionEmbeddings("embeddings", c);
        pre_layrnorm = nn.LayerNorm(c.HiddenSize, c.LayerNormEps);
        encoder = new ClipEncoder("encoder", c.Layers, c.HiddenSize, c.Heads, c.IntermediateSize, c.HiddenAct, c.LayerNormEps);
        post_layernorm = nn.LayerNorm(c.HiddenSize, c.LayerNormEps);
        RegisterComponents();
    }

    /// <summary>Normalised pixels [B, C, S, S] (S = image size) → last hidden state [B, 1 + patches, D] and pooled [B, D].</summary>
    public (Tensor Hidden, Tensor Pooled) forward(Tensor pixels)
    {
        if (pixels.dim() != 4 || pixels.shape[1] != _config.Channels || pixels.shape[2] != _config.ImageSize || pixels.shape[3] != _config.ImageSize)
            throw new ArgumentException($"the vision tower takes [B, {_config.Channels}, {_config.ImageSize}, {_config.ImageSize}] pixels, got [{string.Join(", ", pixels.shape)}]");
        using var scope = NewDisposeScope();
        var hidden = encoder.forward(pre_layrnorm.forward(embeddings.forward(pixels)), null);
        var pooled = post_layernorm.forward(hidden.select(1, 0));
        return (hidden.MoveToOuterDisposeScope(), pooled.MoveToOuterDisposeScope());
    }
}

/// <summary>Which towers of a CLIP model to build (and load).</summary>
[Flags]
public enum ClipTowers
{
    /// <summary>The text tower and <c>text_projection</c>.</summary>
    Text = 1,
    /// <summary>The vision tower and <c>visual_projection</c>.</summary>
    Vision = 2,
    /// <summary>Both, with the learnable <c>logit_scale</c> (training).</summary>
    Both = Text | Vision,
}

/// <summary>
/// CLIP (Radford et al. 2021) as Hugging Face's CLIPModel lays out its weights: a text tower and a
/// vision tower, each followed by a bias-free projection into a shared embedding space, and the
/// learnable logit scale of the contrastive loss. Either tower can be left out.
/// </summary>
public sealed class ClipModel : nn.Module
{
    // Field names are the Hugging Face state-dict keys.
    private readonly ClipTextTransformer? text_model;
    private readonly ClipVisionTransformer? vision_model;
    private readonly Linear? text_projection;
    private readonly Linear? visual_projection;
    private readonly Parameter? logit_scale;

    /// <summary>The configuration it was built from.</summary>
    public ClipConfig Config { get; }

    /// <summary>Which towers it has.</summary>
    public ClipTowers Towers { get; }

    /// <summary>Builds a randomly initialised model with the given towers.</summary>
    public ClipModel(ClipConfig config, ClipTowers towers = ClipTowers.Both) : base("CLIPModel")
    {
        config.Validate();
        Config = config;
        Towers = towers;
        if (towers.HasFlag(ClipTowers.Text))
        {
            text_model = new ClipTextTransformer("text_model", config.Text);
            text_projection = nn.Linear(config.Text.HiddenSize, config.ProjectionDim, hasBias: false);
        }
        if (towers.HasFlag(ClipTowers.Vision))
        {
            vision_model = new ClipVisionTransformer("vision_model", config.Vision);
            visual_projection = nn.Linear(config.Vision.HiddenSize, config.ProjectionDim, hasBias: false);
        }
        if (towers == ClipTowers.Both) logit_scale = new Parameter(tensor((float)config.LogitScaleInit));
        RegisterComponents();
    }

    /// <summary>The text tower's outputs for token ids [B, L] and mask [B, L] (or null): last hidden state, pooled output, projected embedding.</summary>
    public (Tensor Hidden, Tensor Pooled, Tensor Embeds) EncodeText(Tensor ids, Tensor? mask)
    {
        if (text_model is null || text_projection is null) throw new InvalidOperationException("this CLIP model was built without its text tower");
        using var scope = NewDisposeScope();
        var (hidden, pooled) = text_model.forward(ids, mask);
        var embeds = text_projection.forward(pooled);
        return (hidden.MoveToOuterDisposeScope(), pooled.MoveToOuterDisposeScope(), embeds.MoveToOuterDisposeScope());
    }

    /// <summary>The vision tower's outputs for normalised pixels [B, C, S, S]: last hidden state, pooled output, projected embedding.</summary>
    public (Tensor Hidden, Tensor Pooled, Tensor Embeds) EncodeImage(Tensor pixels)
    {
        if (vision_model is null || visual_projection is null) throw new InvalidOperationException("this CLIP model was built without its vision tower");
        using var scope = NewDisposeScope();
        var (hidden, pooled) = vision_model.forward(pixels);
        var embeds = visual_projection.forward(pooled);
        return (hidden.MoveToOuterDisposeScope(), pooled.MoveToOuterDisposeScope(), embeds.MoveToOuterDisposeScope());
    }

    /// <summary>The learnable log of the inverse temperature (only in a model with both towers).</summary>
    public Parameter LogitScale => logit_scale ?? throw new InvalidOperationException("only a CLIP model with both towers has a logit scale");

    /// <summary>Number of parameters (the logit scale included).</summary>
    public long ParameterCount => parameters().Sum(p => p.numel());
}
