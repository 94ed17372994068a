using System.Text.Json;
using System.Text.Json.Nodes;

namespace EDiffI.Plugins.T5;

/// <summary>
/// A T5 architecture as Hugging Face's <c>config.json</c> describes it (field names as there). T5 v1.1
/// (gated-GELU, untied head) and the original T5 (ReLU, tied head) both fit; sizes from tiny to XXL.
/// </summary>
public sealed record T5Config
{
    /// <summary>Width of the residual stream.</summary>
    public int DModel { get; init; } = 512;
    /// <summary>Width of one attention head.</summary>
    public int DKv { get; init; } = 64;
    /// <summary>Number of attention heads.</summary>
    public int NumHeads { get; init; } = 8;
    /// <summary>Inner width of the feed-forward layer.</summary>
    public int DFf { get; init; } = 1024;
    /// <summary>Encoder blocks.</summary>
    public int NumLayers { get; init; } = 8;
    /// <summary>Decoder blocks.</summary>
    public int NumDecoderLayers { get; init; } = 8;
    /// <summary>Vocabulary size: SentencePiece pieces plus the 100 sentinels (possibly padded).</summary>
    public int VocabSize { get; init; } = 32128;
    /// <summary>Buckets of the relative position bias.</summary>
    public int RelativeAttentionNumBuckets { get; init; } = 32;
    /// <summary>Distance beyond which relative positions share the last bucket.</summary>
    public int RelativeAttentionMaxDistance { get; init; } = 128;
    /// <summary>ε of the RMS norm.</summary>
    public double LayerNormEpsilon { get; init; } = 1e-6;
    /// <summary>"gated-gelu" (v1.1), "relu" (original T5), or "[gated-]act" in general.</summary>
    public string FeedForwardProj { get; init; } = "gated-gelu";
    /// <summary>Whether the output head shares the embedding table.</summary>
    public bool TieWordEmbeddings { get; init; }
    /// <summary>Whether decoder outputs are scaled by d_model^−½ before the head (transformers 5 saves it; older configs imply it from tying).</summary>
    public bool? ScaleDecoderOutputs { get; init; }
    /// <summary>The padding id (also the decoder's start token).</summary>
    public int PadTokenId { get; init; }
    /// <summary>The end-of-sequence id.</summary>
    public int EosTokenId { get; init; } = 1;
    /// <summary>First token the decoder sees.</summary>
    public int DecoderStartTokenId { get; init; }

    /// <summary>Whether the feed-forward layer is gated (wi_0, wi_1) or plain (wi).</summary>
    public bool IsGated => FeedForwardProj.StartsWith("gated-", StringComparison.Ordinal);

    /// <summary>The feed-forward activation ("gelu_new" for gated-gelu, as transformers maps it).</summary>
    public string DenseActFn
    {
        get
        {
            string act = IsGated ? FeedForwardProj["gated-".Length..] : FeedForwardProj;
            return act == "gelu" && IsGated ? "gelu_new" : act;
        }
    }

    /// <summary>Whether the decoder output is scaled before the head.</summary>
    public bool ScalesDecoderOutput => ScaleDecoderOutputs ?? TieWordEmbeddings;

    /// <summary>Reads <c>config.json</c> of a checkpoint folder.</summary>
    /// <exception cref="InvalidDataException">When the file is missing, malformed or describes no valid T5.</exception>
    public static T5Config Read(string folder)
    {
        string path = Path.Combine(folder, "config.json");
        if (!File.Exists(path))
            throw new InvalidDataException($"'{folder}' is not a T5 checkpoint folder: it has no config.json.");
        JsonObject json;
        try
        {
            json = JsonNode.Parse(File.ReadAllText(path)) as JsonObject ?? throw new InvalidDataException("not a JSON object");
        }
        catch (Exception e) when (e is JsonException or InvalidDataException)
        {
            throw new InvalidDataException($"'{path}' is not valid JSON ({e.Message}).", e);
        }
        string? type = json["model_type"]?.GetValue<string>();
        if (type is not null && type != "t5")
            throw new InvalidDataException($"'{path}' describes a '{type}' model, not T5.");
        int Int(string key, int fallback) => json[key] is JsonNode n ? n.GetValue<int>() : fallback;
        var defaults = new T5Config();
        int layers = Int("num_layers", defaults.NumLayers);
        var config = new T5Config
        {
            DModel = Int("d_model", defaults.DModel),
            DKv = Int("d_kv", defaults.DKv),
            NumHeads = Int("num_heads", defaults.NumHeads),
            DFf = Int("d_ff", defaults.DFf),
            NumLayers = layers,
            NumDecoderLayers = json["num_decoder_layers"] is JsonNode d && d.GetValueKind() != JsonValueKind.Null ? d.GetValue<int>() : layers,
            VocabSize = Int("vocab_size", defaults.VocabSize),
            RelativeAttentionNumBuckets = Int("relative_attention_num_buckets", defaults.RelativeAttentionNumBuckets),
            RelativeAttentionMaxDistance = Int("relative_attention_max_distance", defaults.RelativeAttentionMaxDistance),
            LayerNormEpsilon = json["layer_norm_epsilon"]?.GetValue<double>() ?? defaults.LayerNormEpsilon,
            FeedForwardProj = json["feed_forward_proj"]?.GetValue<string>() ?? "relu",
            TieWordEmbeddings = json["tie_word_embeddings"]?.GetValue<bool>() ?? true,
            ScaleDecoderOutputs = json["scale_decoder_outputs"]?.GetValue<bool>(),
            PadTokenId = Int("pad_token_id", 0),
            EosTokenId = Int("eos_token_id", 1),
            DecoderStartTokenId = Int("decoder_start_token_id", 0),
        };
        // dense_act_fn, when present, names the activation explicitly (transformers derives it the same way).
        if (json["dense_act_fn"]?.GetValue<string>() is string act && act != config.DenseActFn)
            config = config with { FeedForwardProj = (config.IsGated ? "gated-" : "") + act };
        config.Validate(path);
        return config;
    }

    /// <summary>Checks that the sizes make a T5.</summary>
    /// <exception cref="InvalidDataException">Listing every invalid field.</exception>
    public void Validate(string source)
    {
        var problems = new List<string>();
        if (DModel < 1) problems.Add($"d_model {DModel}");
        if (DKv < 1) problems.Add($"d_kv {DKv}");
        if (NumHeads < 1) problems.Add($"num_heads {NumHeads}");
        if (DFf < 1) problems.Add($"d_ff {DFf}");
        if (NumLayers < 1) problems.Add($"num_layers {NumLayers}");
        if (NumDecoderLayers < 0) problems.Add($"num_decoder_layers {NumDecoderLayers}");
        if (VocabSize < 2) problems.Add($"vocab_size {VocabSize}");
        if (RelativeAttentionNumBuckets < 2) problems.Add($"relative_attention_num_buckets {RelativeAttentionNumBuckets}");
        if (RelativeAttentionMaxDistance < 2) problems.Add($"relative_attention_max_distance {RelativeAttentionMaxDistance}");
        if (LayerNormEpsilon <= 0) problems.Add($"layer_norm_epsilon {LayerNormEpsilon}");
        if (!T5Activations.IsKnown(DenseActFn)) problems.Add($"activation '{DenseActFn}' (known: {string.Join(", ", T5Activations.Names)})");
        if (problems.Count > 0)
            throw new InvalidDataException($"'{source}' has invalid T5 settings: {string.Join(", ", problems)}.");
    }

    /// <summary>Writes the configuration as Hugging Face's <c>config.json</c> (loadable by transformers too).</summary>
    public void Write(string folder, string architecture)
    {
        var json = new JsonObject
        {
            ["architectures"] = new JsonArray(architecture),
            ["model_type"] = "t5",
            ["d_model"] = DModel, ["d_kv"] = DKv, ["num_heads"] = NumHeads, ["d_ff"] = DFf,
            ["num_layers"] = NumLayers, ["num_decoder_layers"] = NumDecoderLayers, ["vocab_size"] = VocabSize,
            ["relative_attention_num_buckets"] = RelativeAttentionNumBuckets,
            ["relative_attention_max_distance"] = RelativeAttentionMaxDistance,
            ["layer_norm_epsilon"] = LayerNormEpsilon, ["feed_forward_proj"] = FeedForwardProj,
            ["dense_act_fn"] = DenseActFn, ["is_gated_act"] = IsGated,
            ["tie_word_embeddings"] = TieWordEmbeddings, ["scale_decoder_outputs"] = ScalesDecoderOutput,
            ["pad_token_id"] = PadTokenId, ["eos_token_id"] = EosTokenId, ["decoder_start_token_id"] = DecoderStartTokenId,
            ["dropout_rate"] = 0.0, ["is_encoder_decoder"] = architecture != "T5EncoderModel",
        };
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "config.json"), json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }

    /// <summary>T5-XXL's encoder (T5 v1.1 XXL, as eDiff-I uses): d_model 4096, 24 layers, 64 heads, d_ff 10240.</summary>
    public static T5Config Xxl => new()
    {
        DModel = 4096, DKv = 64, NumHeads = 64, DFf = 10240, NumLayers = 24, NumDecoderLayers = 24,
        VocabSize = 32128, FeedForwardProj = "gated-gelu", TieWordEmbeddings = false,
    };
}
