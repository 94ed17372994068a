using System.Text.Json;
using System.Text.Json.Serialization;
using EDiffI.IO;

namespace EDiffI.Plugins.UNet;

/// <summary>
/// Shape of the eDiff-I U-Net. One code path builds every size: <see cref="Tiny"/> for CPU tests,
/// <see cref="Adm64"/> for the ADM ImageNet-64 network (Dhariwal and Nichol 2021), and the paper's
/// base model. A conditioning width of 0 removes that stream.
/// </summary>
public sealed record UNetConfig
{
    /// <summary>Version of the <c>unet.json</c> format this build writes and reads at most.</summary>
    public const int CurrentVersion = 1;

    /// <summary>How <c>unet.json</c> keeps its version (a file without one is version 1).</summary>
    public static JsonFileKind Kind { get; } = new("U-Net configuration", "version", CurrentVersion);

    /// <summary>Version of the format the configuration is written in (see <see cref="CurrentVersion"/>).</summary>
    [JsonPropertyOrder(-1)]
    public int Version { get; init; } = CurrentVersion;
    /// <summary>Side of the square images.</summary>
    public int Resolution { get; init; } = 64;
    /// <summary>Image channels in and out.</summary>
    public int Channels { get; init; } = 3;
    /// <summary>Width of the first level (ADM's model_channels).</summary>
    public int ModelChannels { get; init; } = 192;
    /// <summary>Width multiplier of each level; one level per entry, halving resolution between levels.</summary>
    public int[] ChannelMultipliers { get; init; } = [1, 2, 3, 4];
    /// <summary>Residual blocks per level in the encoder (the decoder has one more).</summary>
    public int BlocksPerLevel { get; init; } = 3;
    /// <summary>
    /// Residual blocks of each level, overriding <see cref="BlocksPerLevel"/> (the Efficient U-Net of Saharia et al.
    /// 2022 puts more blocks at the low resolutions, few at the high ones); null for the same count everywhere.
    /// </summary>
    public int[]? LevelBlocks { get; init; }
    /// <summary>
    /// Whether blocks at <see cref="AttentionResolutions"/> carry self-attention. False keeps only their
    /// cross-attention to the text, so the network is convolutional and runs on any image size (the
    /// super-resolution stages train on crops and run on the whole image).
    /// </summary>
    public bool SelfAttention { get; init; } = true;
    /// <summary>
    /// Scale of each residual sum, (h + skip)·s: 1 for ADM; √½ keeps the variance of the sum at that of its
    /// inputs, as the Efficient U-Net and EDM's SongUNet do.
    /// </summary>
    public double SkipScale { get; init; } = 1;
    /// <summary>Resolutions at which blocks carry self-attention (and cross-attention).</summary>
    public int[] AttentionResolutions { get; init; } = [32, 16, 8];
    /// <summary>Channels per attention head.</summary>
    public int HeadChannels { get; init; } = 64;
    /// <summary>Width of the time embedding, as a multiple of <see cref="ModelChannels"/>.</summary>
    public int EmbeddingMultiplier { get; init; } = 4;
    /// <summary>Width of the T5 token embeddings; 0 for none.</summary>
    public int T5Dimension { get; init; }
    /// <summary>Width of the CLIP text token embeddings; 0 for none.</summary>
    public int ClipTextDimension { get; init; }
    /// <summary>Width of the pooled CLIP text vector added to the time embedding; 0 for none.</summary>
    public int ClipPooledDimension { get; init; }
    /// <summary>
    /// Width of the pooled T5 vector added to the time embedding: the mean of the T5 tokens over the prompt's mask, so a
    /// T5-only model gets a global text vector as CLIP's pooled one gives the others; 0 for none, else
    /// <see cref="T5Dimension"/>.
    /// </summary>
    public int T5PooledDimension { get; init; }
    /// <summary>Width of the CLIP image embedding; 0 for none.</summary>
    public int ClipImageDimension { get; init; }
    /// <summary>Width of the cross-attention context tokens (every stream is projected to it).</summary>
    public int ContextDimension { get; init; } = 512;
    /// <summary>Whether a cross-attention block follows every self-attention block.</summary>
    public bool CrossAttention { get; init; } = true;
    /// <summary>Dropout inside residual blocks during training.</summary>
    public double Dropout { get; init; }
    /// <summary>
    /// Generic conditioning slots, one per conditioner stream (<see cref="Conditioning.IConditioner"/>), fed by
    /// the stream of the same name: extra cross-attention tokens, a pooled vector added to the time
    /// embedding, a spatial map added after the input convolution. Empty for the base model.
    /// </summary>
    public StreamSlotConfig[] Streams { get; init; } = [];

    /// <summary>True when the network has any conditioning stream at all.</summary>
    [JsonIgnore]
    public bool HasContext => CrossAttention && (T5Dimension > 0 || ClipTextDimension > 0 || ClipImageDimension > 0);

    /// <summary>Width of the time embedding.</summary>
    [JsonIgnore]
    public int EmbeddingChannels => ModelChannels * EmbeddingMultiplier;

    /// <summary>The ADM ImageNet-64 configuration (295M parameters without conditioning).</summary>
    public static UNetConfig Adm64 { get; } = new() { CrossAttention = false };

    /// <summary>A few-hundred-thousand-parameter model for CPU tests.</summary>
    public static UNetConfig Tiny(int resolution = 16) => new()
    {
        Resolution = resolution, ModelChannels = 32, ChannelMultipliers = [1, 2], BlocksPerLevel = 1,
        AttentionResolutions = [resolution / 2], HeadChannels = 32, ContextDimension = 64,
        T5Dimension = 32, ClipTextDimension = 32, ClipPooledDimension = 32, ClipImageDimension = 16,
    };

    /// <summary>Names of the built-in shapes <see cref="Preset"/> knows.</summary>
    public static IReadOnlyList<string> PresetNames { get; } = ["tiny", "compact", "compact32", "wide64", "small", "adm64", "ediffi64", "sr256", "sr1024", "sr-tiny"];

    /// <summary>The blocks of level <paramref name="level"/>.</summary>
    public int BlocksAt(int level) => LevelBlocks is { } blocks ? blocks[level] : BlocksPerLevel;


    /// <summary>
    /// A named shape: "tiny" (CPU tests), "compact" (about 2.5M parameters), "compact32" (compact with attention at 32² too), "wide64" (compact32 at 64 channels, 8.1M parameters), "small" (12M parameters), "adm64" (ADM ImageNet-64, no text),
    /// "ediffi64" (adm64 with eDiff-I's text conditioning), with text streams of width <paramref name="textDimension"/>.
    /// </summary>
    /// <exception cref="ArgumentException">For an unknown name.</exception>
    public static UNetConfig Preset(string name, int? resolution = null, int textDimension = 64)
    {
        int d = textDimension;
        return name switch
        {
            "tiny" => Tiny(resolution ?? 16) with { T5Dimension = d, ClipTextDimension = d, ClipPooledDimension = d, ClipImageDimension = 0 },
            "compact" => new UNetConfig
            {
                Resolution = resolution ?? 64, ModelChannels = 36, ChannelMultipliers = [1, 2, 2, 2], BlocksPerLevel = 1,
                AttentionResolutions = [(resolution ?? 64) / 4, (resolution ?? 64) / 8], HeadChannels = 36, ContextDimension = 96,
                EmbeddingMultiplier = 2, T5Dimension = d, ClipTextDimension = d, ClipPooledDimension = d,
            },
            // The compact shape with attention (self and cross) at 32² as well: the words can place and shape the
            // small objects at a 2-pixel grain. Its blocks are named as compact's, so compact experts grow into it.
            "compact32" => Preset("compact", resolution, textDimension) with
            {
                AttentionResolutions = [(resolution ?? 64) / 2, (resolution ?? 64) / 4, (resolution ?? 64) / 8],
            },
            // compact32 at 64 channels (8.1M parameters, 12.3 GFLOP per image): the next base's candidate, 2.1× compact32's
            // time per evaluation on a 2-core CPU; three such experts fit the 40 MB weights budget only in 8 bits (quantize).
            "wide64" => Preset("compact32", resolution, textDimension) with { ModelChannels = 64, HeadChannels = 64, ContextDimension = 128 },
            "small" => new UNetConfig
            {
                Resolution = resolution ?? 64, ModelChannels = 64, ChannelMultipliers = [1, 2, 2, 2], BlocksPerLevel = 2,
                AttentionResolutions = [(resolution ?? 64) / 4, (resolution ?? 64) / 8], ContextDimension = 256,
                T5Dimension = d, ClipTextDimension = d, ClipPooledDimension = d,
            },
            "adm64" => Adm64 with { Resolution = resolution ?? 64 },
            "ediffi64" => Adm64 with
            {
                Resolution = resolution ?? 64, CrossAttention = true, ContextDimension = 768,
                T5Dimension = d, ClipTextDimension = d, ClipPooledDimension = d,
            },
            // Efficient U-Nets for the cascade (Saharia et al. 2022, Appendix B): few channels at full resolution,
            // more blocks low down, residual sums scaled by √½, cross-attention to the text at the lowest level
            // only and no self-attention, so they train on crops and run convolutionally on the whole image.
            "sr256" => new UNetConfig
            {
                Resolution = resolution ?? 256, ModelChannels = 16, ChannelMultipliers = [1, 2, 4, 6], LevelBlocks = [1, 1, 2, 2],
                AttentionResolutions = [(resolution ?? 256) / 8], SelfAttention = false, HeadChannels = 32, ContextDimension = 96,
                EmbeddingMultiplier = 4, SkipScale = Math.Sqrt(0.5), T5Dimension = d, ClipTextDimension = d, ClipPooledDimension = d,
            },
            "sr1024" => new UNetConfig
            {
                Resolution = resolution ?? 1024, ModelChannels = 12, ChannelMultipliers = [1, 2, 4, 8], LevelBlocks = [1, 1, 1, 2],
                AttentionResolutions = [(resolution ?? 1024) / 8], SelfAttention = false, HeadChannels = 32, ContextDimension = 96,
                EmbeddingMultiplier = 4, SkipScale = Math.Sqrt(0.5), T5Dimension = d, ClipTextDimension = d, ClipPooledDimension = d,
            },
            "sr-tiny" => new UNetConfig
            {
                Resolution = resolution ?? 32, ModelChannels = 8, ChannelMultipliers = [1, 2], LevelBlocks = [1, 1],
                AttentionResolutions = [(resolution ?? 32) / 2], SelfAttention = false, HeadChannels = 16, ContextDimension = 32,
                EmbeddingMultiplier = 2, SkipScale = Math.Sqrt(0.5), T5Dimension = d, ClipTextDimension = d, ClipPooledDimension = d,
            },
            _ => throw new ArgumentException($"Unknown U-Net shape '{name}' (known: {string.Join(", ", PresetNames)})."),
        };
    }

    /// <summary>Checks the shape is buildable; throws with every problem found.</summary>
    public void Validate()
    {
        var problems = new List<string>();
        if (Resolution < 4) problems.Add($"resolution {Resolution} is too small");
        if (ChannelMultipliers.Length == 0) problems.Add("at least one channel multiplier is needed");
        if (Resolution % (1 << Math.Max(0, ChannelMultipliers.Length - 1)) != 0)
            problems.Add($"resolution {Resolution} is not divisible by 2^{ChannelMultipliers.Length - 1} (one halving per level)");
        if (ModelChannels <= 0 || BlocksPerLevel <= 0) problems.Add("model channels and blocks per level must be positive");
        if (LevelBlocks is { } levelBlocks && (levelBlocks.Length != ChannelMultipliers.Length || levelBlocks.Any(b => b <= 0)))
            problems.Add($"levelBlocks needs one positive count per level ({ChannelMultipliers.Length}), got [{string.Join(", ", levelBlocks)}]");
        if (!(SkipScale > 0 && SkipScale <= 1)) problems.Add($"skipScale must be in (0, 1] (got {SkipScale})");
        if (Channels <= 0 || EmbeddingMultiplier <= 0) problems.Add("image channels and the embedding multiplier must be positive");
        if (HeadChannels <= 0) problems.Add($"head channels must be positive (got {HeadChannels})");
        if (new[] { T5Dimension, ClipTextDimension, ClipPooledDimension, ClipImageDimension, ContextDimension }.Any(d => d < 0))
            problems.Add("conditioning widths must be 0 (none) or positive");
        if (T5PooledDimension != 0 && T5PooledDimension != T5Dimension)
            problems.Add($"the pooled T5 vector is the mean of the T5 tokens, so its width is the T5 width ({T5Dimension}) or 0, not {T5PooledDimension}");
        for (int level = 0; level < ChannelMultipliers.Length; level++)
        {
            // Levels with attention (and the middle, which always has it) split their width into heads.
            bool attends = AttentionResolutions.Contains(Resolution >> level) || level == ChannelMultipliers.Length - 1;
            int width = ModelChannels * ChannelMultipliers[level];
            if (attends && HeadChannels > 0 && width % HeadChannels != 0 && AttentionResolutions.Length > 0)
                problems.Add($"width {width} is not a multiple of the head width {HeadChannels}");
        }
        var names = new HashSet<string>();
        foreach (var slot in Streams ?? [])
        {
            if (slot is null || !StreamSlotConfig.IsValidName(slot.Name)) { problems.Add($"stream slot name '{slot?.Name}' must be lower-case letters, digits or '_', starting with a letter"); continue; }
            if (!names.Add(slot.Name)) problems.Add($"stream slot '{slot.Name}' is listed twice");
            if (slot.Tokens < 0 || slot.Pooled < 0 || slot.Channels < 0 || slot.Tokens + slot.Pooled + slot.Channels == 0)
                problems.Add($"stream slot '{slot.Name}' needs a positive token, pooled or channel width");
            if (slot.Tokens > 0 && !(CrossAttention && HasContext)) problems.Add($"stream slot '{slot.Name}' has tokens but the network has no cross-attention context");
        }
        if (problems.Count > 0) throw new InvalidDataException("Invalid U-Net configuration: " + string.Join("; ", problems));
    }

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase, RespectNullableAnnotations = true,
    };

    /// <summary>Serialises to JSON.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>
    /// Parses JSON written by <see cref="ToJson"/>; <paramref name="source"/> names it in messages (the file it came from).
    /// </summary>
    /// <exception cref="InvalidDataException">For malformed JSON, a field of the wrong type, or a version newer than <see cref="CurrentVersion"/>.</exception>
    public static UNetConfig FromJson(string json, string source = "the U-Net configuration") =>
        JsonFiles.Parse<UNetConfig>(json, source, Kind, Json);
}
