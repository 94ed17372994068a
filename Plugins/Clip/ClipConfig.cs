using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace EDiffI.Plugins.Clip;

/// <summary>The text tower's shape: the <c>text_config</c> of a Hugging Face CLIP <c>config.json</c>.</summary>
public sealed record ClipTextConfig
{
    /// <summary>Vocabulary size.</summary>
    public int VocabSize { get; init; } = 49408;
    /// <summary>Width of the residual stream.</summary>
    public int HiddenSize { get; init; } = 512;
    /// <summary>Width of the MLP's hidden layer.</summary>
    public int IntermediateSize { get; init; } = 2048;
    /// <summary>Transformer layers.</summary>
    public int Layers { get; init; } = 12;
    /// <summary>Attention heads.</summary>
    public int Heads { get; init; } = 8;
    /// <summary>Most tokens, start and end included (77 in CLIP).</summary>
    public int MaxPositions { get; init; } = 77;
    /// <summary>MLP activation: quick_gelu (CLIP), gelu, gelu_new or gelu_pytorch_tanh.</summary>
    public string HiddenAct { get; init; } = "quick_gelu";
    /// <summary>Layer-norm epsilon.</summary>
    public double LayerNormEps { get; init; } = 1e-5;
    /// <summary>Id of the start-of-text token.</summary>
    public int BosTokenId { get; init; } = 49406;
    /// <summary>Id of the end-of-text token, whose position gives the pooled output.</summary>
    public int EosTokenId { get; init; } = 49407;
}

/// <summary>The vision tower's shape: the <c>vision_config</c> of a Hugging Face CLIP <c>config.json</c>.</summary>
public sealed record ClipVisionConfig
{
    /// <summary>Width of the residual stream.</summary>
    public int HiddenSize { get; init; } = 768;
    /// <summary>Width of the MLP's hidden layer.</summary>
    public int IntermediateSize { get; init; } = 3072;
    /// <summary>Transformer layers.</summary>
    public int Layers { get; init; } = 12;
    /// <summary>Attention heads.</summary>
    public int Heads { get; init; } = 12;
    /// <summary>Side of the (square) input image in pixels.</summary>
    public int ImageSize { get; init; } = 224;
    /// <summary>Side of a patch in pixels.</summary>
    public int PatchSize { get; init; } = 32;
    /// <summary>Input channels.</summary>
    public int Channels { get; init; } = 3;
    /// <summary>MLP activation.</summary>
    public string HiddenAct { get; init; } = "quick_gelu";
    /// <summary>Layer-norm epsilon.</summary>
    public double LayerNormEps { get; init; } = 1e-5;

    /// <summary>Patches per image side.</summary>
    public int PatchesPerSide => ImageSize / PatchSize;
}

/// <summary>A CLIP model's configuration, read from and written as a Hugging Face <c>config.json</c> (CLIPModel).</summary>
public sealed record ClipConfig
{
    /// <summary>The text tower.</summary>
    public ClipTextConfig Text { get; init; } = new();
    /// <summary>The vision tower.</summary>
    public ClipVisionConfig Vision { get; init; } = new();
    /// <summary>Width of the shared embedding space both projections map to.</summary>
    public int ProjectionDim { get; init; } = 512;
    /// <summary>Initial log of the contrastive temperature's inverse (ln(1/0.07) = 2.6592).</summary>
    public double LogitScaleInit { get; init; } = 2.6592;

    private static readonly string[] Activations = ["quick_gelu", "gelu", "gelu_new", "gelu_pytorch_tanh"];

    /// <summary>Reads <c>config.json</c>; keys it lacks take Hugging Face's defaults.</summary>
    /// <exception cref="FileNotFoundException">When the file is missing.</exception>
    /// <exception cref="InvalidDataException">When it is not a valid CLIP configuration.</exception>
    public static ClipConfig Load(string path)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"No CLIP config at '{path}': a CLIP model folder holds config.json, model.safetensors, vocab.json and merges.txt (Hugging Face layout).", path);
        JsonNode? root;
        try
        {
            root = JsonNode.Parse(File.ReadAllText(path));
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"'{path}' is not valid JSON ({e.Message}).", e);
        }
        if (root is not JsonObject obj) throw new InvalidDataException($"'{path}' is not a JSON object.");
        string? type = obj["model_type"]?.GetValue<string>();
        if (type is not null && type != "clip")
            throw new InvalidDataException($"'{path}' describes a '{type}' model; the CLIP plugin reads CLIPModel configurations (model_type \"clip\").");
        try
        {
            var t = obj["text_config"] as JsonObject ?? new JsonObject();
            var v = obj["vision_config"] as JsonObject ?? new JsonObject();
            var text = new ClipTextConfig();
            text = new ClipTextConfig
            {
                VocabSize = Int(t, "vocab_size", text.VocabSize), HiddenSize = Int(t, "hidden_size", text.HiddenSize),
                IntermediateSize = Int(t, "intermediate_size", text.IntermediateSize), Layers = Int(t, "num_hidden_layers", text.Layers),
                Heads = Int(t, "num_attention_heads", text.Heads), MaxPositions = Int(t, "max_position_embeddings", text.MaxPositions),
                HiddenAct = Str(t, "hidden_act", text.HiddenAct), LayerNormEps = Num(t, "layer_norm_eps", text.LayerNormEps),
                BosTokenId = Int(t, "bos_token_id", text.BosTokenId), EosTokenId = Int(t, "eos_token_id", text.EosTokenId),
            };
            var vision = new ClipVisionConfig();
            vision = new ClipVisionConfig
            {
                HiddenSize = Int(v, "hidden_size", vision.HiddenSize), IntermediateSize = Int(v, "intermediate_size", vision.IntermediateSize),
                Layers = Int(v, "num_hidden_layers", vision.Layers), Heads = Int(v, "num_attention_heads", vision.Heads),
                ImageSize = Int(v, "image_size", vision.ImageSize), PatchSize = Int(v, "patch_size", vision.PatchSize),
                Channels = Int(v, "num_channels", vision.Channels), HiddenAct = Str(v, "hidden_act", vision.HiddenAct),
                LayerNormEps = Num(v, "layer_norm_eps", vision.LayerNormEps),
            };
            var config = new ClipConfig
            {
                Text = text, Vision = vision, ProjectionDim = Int(obj, "projection_dim", 512),
                LogitScaleInit = Num(obj, "logit_scale_init_value", 2.6592),
            };
            config.Validate();
            return config;
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException or ArgumentException)
        {
            throw new InvalidDataException($"'{path}' is not a valid CLIP configuration: {e.Message}", e);
        }
    }

    /// <summary>Checks that the shapes are consistent.</summary>
    /// <exception cref="ArgumentException">Naming every inconsistency.</exception>
    public void Validate()
    {
        var problems = new List<string>();
        void Check(bool ok, string message) { if (!ok) problems.Add(message); }
        Check(Text.VocabSize > 2 && Text.HiddenSize > 0 && Text.IntermediateSize > 0 && Text.Layers > 0 && Text.MaxPositions > 2,
            "text sizes (vocab_size, hidden_size, intermediate_size, num_hidden_layers, max_position_embeddings) must be positive");
        Check(Text.Heads > 0 && Text.HiddenSize % Text.Heads == 0, $"text hidden_size {Text.HiddenSize} is not divisible by num_attention_heads {Text.Heads}");
        Check(Vision.HiddenSize > 0 && Vision.IntermediateSize > 0 && Vision.Layers > 0 && Vision.Channels > 0,
            "vision sizes (hidden_size, intermediate_size, num_hidden_layers, num_channels) must be positive");
        Check(Vision.Heads > 0 && Vision.HiddenSize % Vision.Heads == 0, $"vision hidden_size {Vision.HiddenSize} is not divisible by num_attention_heads {Vision.Heads}");
        Check(Vision.PatchSize > 0 && Vision.ImageSize >= Vision.PatchSize && Vision.ImageSize % Vision.PatchSize == 0,
            $"vision image_size {Vision.ImageSize} is not a multiple of patch_size {Vision.PatchSize}");
        Check(ProjectionDim > 0, "projection_dim must be positive");
        Check(Activations.Contains(Text.HiddenAct), $"text hidden_act '{Text.HiddenAct}' is not one of {string.Join(", ", Activations)}");
        Check(Activations.Contains(Vision.HiddenAct), $"vision hidden_act '{Vision.HiddenAct}' is not one of {string.Join(", ", Activations)}");
        Check(Text.EosTokenId >= 0 && Text.EosTokenId < Text.VocabSize, $"text eos_token_id {Text.EosTokenId} is outside the vocabulary");
        if (problems.Count > 0) throw new ArgumentException(string.Join("; ", problems));
    }

    /// <summary>This configuration as a Hugging Face CLIPModel <c>config.json</c>.</summary>
    public string ToJson()
    {
        var root = new JsonObject
        {
            ["architectures"] = new JsonArray("CLIPModel"),
            ["model_type"] = "clip",
            ["projection_dim"] = ProjectionDim,
            ["logit_scale_init_value"] = LogitScaleInit,
            ["text_config"] = new JsonObject
            {
                ["model_type"] = "clip_text_model", ["vocab_size"] = Text.VocabSize, ["hidden_size"] = Text.HiddenSize,
                ["intermediate_size"] = Text.IntermediateSize, ["num_hidden_layers"] = Text.Layers,
                ["num_attention_heads"] = Text.Heads, ["max_position_embeddings"] = Text.MaxPositions,
                ["hidden_act"] = Text.HiddenAct, ["layer_norm_eps"] = Text.LayerNormEps, ["bos_token_id"] = Text.BosTokenId,
                ["eos_token_id"] = Text.EosTokenId, ["pad_token_id"] = Text.EosTokenId, ["projection_dim"] = ProjectionDim,
            },
            ["vision_config"] = new JsonObject
            {
                ["model_type"] = "clip_vision_model", ["hidden_size"] = Vision.HiddenSize,
                ["intermediate_size"] = Vision.IntermediateSize, ["num_hidden_layers"] = Vision.Layers,
                ["num_attention_heads"] = Vision.Heads, ["image_size"] = Vision.ImageSize, ["patch_size"] = Vision.PatchSize,
                ["num_channels"] = Vision.Channels, ["hidden_act"] = Vision.HiddenAct, ["layer_norm_eps"] = Vision.LayerNormEps,
                ["projection_dim"] = ProjectionDim,
            },
        };
        return root.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    private static int Int(JsonObject o, string key, int fallback) => o[key] is JsonNode n ? n.GetValue<int>() : fallback;
    private static double Num(JsonObject o, string key, double fallback) =>
        o[key] is JsonNode n ? double.Parse(n.ToJsonString(), CultureInfo.InvariantCulture) : fallback;
    private static string Str(JsonObject o, string key, string fallback) => o[key] is JsonNode n ? n.GetValue<string>() : fallback;
}
