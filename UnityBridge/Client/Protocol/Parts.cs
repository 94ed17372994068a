using System.Collections.Generic;
using MessagePack;

namespace EDiffI.Bridge.Protocol;

/// <summary>An RGBA8 image: row-major, top row first, 4 bytes a pixel.</summary>
[MessagePackObject]
public sealed class ImageData
{
    /// <summary>Width in pixels.</summary>
    [Key(0)]
    public int Width { get; set; }

    /// <summary>Height in pixels.</summary>
    [Key(1)]
    public int Height { get; set; }

    /// <summary>Width × Height × 4 bytes.</summary>
    [Key(2)]
    public byte[] Rgba { get; set; } = System.Array.Empty<byte>();

    /// <summary>True when <see cref="Rgba"/> holds exactly Width × Height × 4 bytes and both sides are positive.</summary>
    public bool IsWellFormed() => Width > 0 && Height > 0 && Rgba is not null && (long)Width * Height * 4 == Rgba.Length;
}

/// <summary>One colour of a paint-with-words scribble and the prompt phrase it places.</summary>
[MessagePackObject]
public sealed class LegendEntry
{
    /// <summary>The colour as 0xRRGGBB.</summary>
    [Key(0)]
    public int Rgb { get; set; }

    /// <summary>The phrase of the prompt painted with this colour.</summary>
    [Key(1)]
    public string Phrase { get; set; } = "";

    /// <summary>How strongly the region pulls its phrase (paint-with-words weight w′); 0 for the host's default.</summary>
    [Key(2)]
    public double Strength { get; set; }
}

/// <summary>The input of one of the host's conditioners in a generate request.</summary>
[MessagePackObject]
public sealed class ConditionEntry
{
    /// <summary>The conditioner's name (for example "palette").</summary>
    [Key(0)]
    public string Name { get; set; } = "";

    /// <summary>The input as text (for example "#aa3322,#ffffff"), or null.</summary>
    [Key(1)]
    public string? Text { get; set; }

    /// <summary>The input as bytes, or null.</summary>
    [Key(2)]
    public byte[]? Bytes { get; set; }

    /// <summary>A strength; 0 for the conditioner's default.</summary>
    [Key(3)]
    public double Weight { get; set; }
}

/// <summary>
/// Settings of one super-resolution stage of the cascade in a generate request ("sr256", "sr1024", or "*" for every
/// stage not named); a null field keeps the model's default for that stage.
/// </summary>
[MessagePackObject]
public sealed class StageEntry
{
    /// <summary>The stage's name, as the host's <see cref="ModelInfo"/> capabilities list its sizes ("sr256"), or "*".</summary>
    [Key(0)]
    public string Name { get; set; } = "";

    /// <summary>Sampler steps of the stage, or null for the model's.</summary>
    [Key(1)]
    public int? Steps { get; set; }

    /// <summary>Guidance weight of the stage (1: none), or null for the model's.</summary>
    [Key(2)]
    public double? Guidance { get; set; }

    /// <summary>σ_aug, the noise the low-resolution input is corrupted with (0: none), or null for the model's.</summary>
    [Key(3)]
    public double? AugmentationSigma { get; set; }

    /// <summary>Largest σ of the stage's schedule (lower stays closer to the upsampled input), or null for the model's.</summary>
    [Key(4)]
    public double? SigmaMax { get; set; }
}

/// <summary>A model a host can draw with.</summary>
[MessagePackObject]
public sealed class ModelInfo
{
    /// <summary>Name (the folder's name).</summary>
    [Key(0)]
    public string Name { get; set; } = "";

    /// <summary>The side of the square images the model draws.</summary>
    [Key(1)]
    public int Resolution { get; set; }

    /// <summary>Default sampler steps.</summary>
    [Key(2)]
    public int DefaultSteps { get; set; }

    /// <summary>Default guidance weight.</summary>
    [Key(3)]
    public double DefaultGuidance { get; set; }

    /// <summary>The sampler used when a request names none.</summary>
    [Key(4)]
    public string DefaultSampler { get; set; } = "";
}

/// <summary>A plugin of the host and what became of it.</summary>
[MessagePackObject]
public sealed class PluginSummary
{
    /// <summary>The plugin's name.</summary>
    [Key(0)]
    public string Name { get; set; } = "";

    /// <summary>Its version, when it has a manifest.</summary>
    [Key(1)]
    public string? Version { get; set; }

    /// <summary>Loaded, Refused, Faulted or Disabled.</summary>
    [Key(2)]
    public string Status { get; set; } = "";
}

/// <summary>The settings an image was drawn with, every default resolved.</summary>
[MessagePackObject]
public sealed class GenerationSettings
{
    /// <summary>The prompt.</summary>
    [Key(0)]
    public string Prompt { get; set; } = "";

    /// <summary>Sampler steps.</summary>
    [Key(1)]
    public int Steps { get; set; }

    /// <summary>Guidance weight.</summary>
    [Key(2)]
    public double Guidance { get; set; }

    /// <summary>Sampler name.</summary>
    [Key(3)]
    public string Sampler { get; set; } = "";

    /// <summary>Width in pixels.</summary>
    [Key(4)]
    public int Width { get; set; }

    /// <summary>Height in pixels.</summary>
    [Key(5)]
    public int Height { get; set; }

    /// <summary>Whether the texture tiles.</summary>
    [Key(6)]
    public bool Tiling { get; set; }

    /// <summary>The model's name.</summary>
    [Key(7)]
    public string Model { get; set; } = "";

    /// <summary>The style strength used; 0 when there was no style reference.</summary>
    [Key(8)]
    public double StyleStrength { get; set; }

    /// <summary>How many painted regions (paint-with-words) the image was drawn with.</summary>
    [Key(9)]
    public int PaintedRegions { get; set; }
}

/// <summary>
/// The PBR maps of a result, each the result's size, row-major with the top row first, wrapping along the axes the
/// albedo tiles. Only the height map is 16-bit; the others are RGBA8 with alpha 255 (roughness and occlusion grey).
/// </summary>
[MessagePackObject]
public sealed class MaterialMaps
{
    /// <summary>Width in pixels.</summary>
    [Key(0)]
    public int Width { get; set; }

    /// <summary>Height in pixels.</summary>
    [Key(1)]
    public int Height { get; set; }

    /// <summary>Heights, 2 bytes a pixel, little-endian: 0 lowest, 65535 highest.</summary>
    [Key(2)]
    public byte[] Height16 { get; set; } = System.Array.Empty<byte>();

    /// <summary>Tangent-space normals in RGB, by <see cref="NormalConvention"/>.</summary>
    [Key(3)]
    public ImageData Normal { get; set; } = new ImageData();

    /// <summary>Roughness, 0 (mirror) to 255 (rough), in R, G and B.</summary>
    [Key(4)]
    public ImageData Roughness { get; set; } = new ImageData();

    /// <summary>Ambient occlusion, 255 unoccluded, in R, G and B.</summary>
    [Key(5)]
    public ImageData Occlusion { get; set; } = new ImageData();

    /// <summary>"opengl" (green up) or "directx".</summary>
    [Key(6)]
    public string NormalConvention { get; set; } = "opengl";

    /// <summary>Where the heights came from, for a person (for example "luminance (heuristic)").</summary>
    [Key(7)]
    public string HeightSource { get; set; } = "";
}

/// <summary>The host's limits on requests, sent in <see cref="Welcome"/>.</summary>
[MessagePackObject]
public sealed class BridgeLimitsInfo
{
    /// <summary>Largest frame the host reads, in bytes.</summary>
    [Key(0)]
    public int MaxFrameBytes { get; set; }

    /// <summary>Longest prompt, in characters.</summary>
    [Key(1)]
    public int MaxPromptLength { get; set; }

    /// <summary>Largest width or height of a requested image.</summary>
    [Key(2)]
    public int MaxResolution { get; set; }

    /// <summary>Largest width or height of a style reference or scribble.</summary>
    [Key(3)]
    public int MaxInputImageSide { get; set; }

    /// <summary>Jobs the whole queue holds at most.</summary>
    [Key(4)]
    public int MaxQueueDepth { get; set; }

    /// <summary>Jobs one connection may have queued or running at once.</summary>
    [Key(5)]
    public int MaxJobsPerClient { get; set; }

    /// <summary>Largest sampler step count.</summary>
    [Key(6)]
    public int MaxSteps { get; set; }

    /// <summary>Most legend entries of a scribble.</summary>
    [Key(7)]
    public int MaxLegendEntries { get; set; }

    /// <summary>Largest preview side.</summary>
    [Key(8)]
    public int MaxPreviewSize { get; set; }
}

/// <summary>The protocol's version numbers.</summary>
public static class BridgeProtocol
{
    /// <summary>The newest version this build speaks.</summary>
    public const int Version = 1;

    /// <summary>The oldest version this build still speaks.</summary>
    public const int MinVersion = 1;
}

/// <summary>Capability names of <see cref="Welcome.Capabilities"/>.</summary>
public static class Capabilities
{
    /// <summary>Text to image.</summary>
    public const string Generate = "generate";
    /// <summary>Preview images in progress messages.</summary>
    public const string Preview = "preview";
    /// <summary>Seamlessly tiling textures (<see cref="GenerateRequest.Tiling"/>).</summary>
    public const string Tiling = "tiling";
    /// <summary>Style reference images (<see cref="GenerateRequest.StyleImage"/>).</summary>
    public const string StyleReference = "style-reference";
    /// <summary>Paint-with-words (<see cref="GenerateRequest.Scribble"/>, <see cref="GenerateRequest.Legend"/>).</summary>
    public const string PaintWithWords = "paint-with-words";
    /// <summary>img2img: <see cref="GenerateRequest.InitImage"/> with <see cref="GenerateRequest.Strength"/>.</summary>
    public const string ImageToImage = "img2img";
    /// <summary>Inpainting: <see cref="GenerateRequest.InitImage"/> with <see cref="GenerateRequest.Mask"/>.</summary>
    public const string Inpainting = "inpainting";
    /// <summary><see cref="GenerateRequest.MakeTileable"/>.</summary>
    public const string MakeTileable = "make-tileable";
    /// <summary><see cref="GenerateRequest.VariationSeed"/> and <see cref="GenerateRequest.VariationStrength"/>.</summary>
    public const string Variations = "variations";
    /// <summary>Material previews rendered beside the result (<see cref="GenerateRequest.MaterialPreviewSize"/>, the Vulkan texture path).</summary>
    public const string MaterialPreview = "material-preview";
    /// <summary>PBR maps derived from the albedo (<see cref="GenerateRequest.Pbr"/>, <see cref="GenerateResult.Maps"/>).</summary>
    public const string Pbr = "pbr";
    /// <summary>Prefix of the capability a conditioner adds: "conditioner:palette" means GenerateRequest.Conditions may name "palette".</summary>
    public const string ConditionerPrefix = "conditioner:";
    /// <summary>Prefix of the output sizes the host draws: "size:1024" means a request may ask for 1024×1024 (the base's size and each cascade stage's).</summary>
    public const string SizePrefix = "size:";
}

/// <summary>
/// Stage names of <see cref="Progress.Stage"/>: <see cref="Base"/> for the base model's steps, then each super-resolution
/// stage of the cascade by its model's name for it ("sr256", "sr1024"; they start with <see cref="SuperResolutionPrefix"/>).
/// </summary>
public static class Stages
{
    /// <summary>Solving the ODE at the base resolution.</summary>
    public const string Base = "base";
    /// <summary>Solving the ODE at the base resolution (hosts before the cascade sent this instead of <see cref="Base"/>).</summary>
    public const string Sampling = "sampling";
    /// <summary>How super-resolution stage names begin ("sr256").</summary>
    public const string SuperResolutionPrefix = "sr";
    /// <summary>A super-resolution stage of a host that does not name its stages.</summary>
    public const string SuperResolution = "super-resolution";
}

/// <summary>Codes of <see cref="BridgeError.Code"/> (and of <see cref="BridgeException.Code"/> on the client).</summary>
public static class ErrorCodes
{
    /// <summary>A frame's length prefix was 0 or above the limit; the connection is closed.</summary>
    public const string BadFrame = "bad-frame";
    /// <summary>A frame did not hold a well-formed message.</summary>
    public const string BadMessage = "bad-message";
    /// <summary>The first message was not a Hello, or a second Hello came.</summary>
    public const string Handshake = "handshake";
    /// <summary>Client and host share no protocol version; the connection is closed.</summary>
    public const string ProtocolVersion = "protocol-version";
    /// <summary>TCP without the right token; the connection is closed.</summary>
    public const string Unauthorized = "unauthorized";
    /// <summary>A request broke a limit (prompt length, resolution, image size...).</summary>
    public const string Limit = "limit";
    /// <summary>A request's setting is invalid (unknown sampler, bad steps...).</summary>
    public const string InvalidRequest = "invalid-request";
    /// <summary>A request used a feature the host does not list in its capabilities.</summary>
    public const string Unsupported = "unsupported";
    /// <summary>The queue, or this client's share of it, is full; try again later.</summary>
    public const string QueueFull = "queue-full";
    /// <summary>A cancel named no job of this connection.</summary>
    public const string UnknownJob = "unknown-job";
    /// <summary>The host has as many connections as it allows.</summary>
    public const string Busy = "busy";
    /// <summary>A message only the host sends came from a client.</summary>
    public const string UnexpectedMessage = "unexpected-message";
    /// <summary>The generation failed on the host.</summary>
    public const string Internal = "internal";
    /// <summary>Client side: no host is listening at the endpoint.</summary>
    public const string HostNotRunning = "host-not-running";
    /// <summary>Client side: the connection was lost.</summary>
    public const string ConnectionLost = "connection-lost";
    /// <summary>Client side: the host could not be started.</summary>
    public const string HostStartFailed = "host-start-failed";
    /// <summary>Farm: the NATS server cannot be reached, refused the credentials, or has no JetStream.</summary>
    public const string FarmUnreachable = "farm-unreachable";
    /// <summary>Farm: the settings of the connection (address, credential files, TLS files) are wrong.</summary>
    public const string FarmSettings = "farm-settings";
    /// <summary>Farm: a job failed on every delivery it was allowed, or its worker stopped each time.</summary>
    public const string FarmGaveUp = "farm-gave-up";

    /// <summary>True for the codes after which the host closes the connection.</summary>
    public static bool ClosesConnection(string code) =>
        code == BadFrame || code == Handshake || code == ProtocolVersion || code == Unauthorized || code == Busy;
}
