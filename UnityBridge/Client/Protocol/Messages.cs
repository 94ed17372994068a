using System.Collections.Generic;
using MessagePack;

namespace EDiffI.Bridge.Protocol;

// The protocol: every frame carries one BridgeMessage, written through its union so the first
// field names the message type. Union tags and [Key] numbers are only ever appended: a field or a
// message is never renumbered or reused, so older peers skip what they do not know.

/// <summary>
/// The root of every message on the bridge. <see cref="RequestId"/> ties replies to what they
/// answer: the client picks it for each request (non-zero, unique on its connection); a job's
/// progress, result and cancellation carry the id of its <see cref="GenerateRequest"/>; an error
/// about something that could not be read at all carries 0.
/// </summary>
[Union(0, typeof(Hello))]
[Union(1, typeof(Welcome))]
[Union(2, typeof(ListRequest))]
[Union(3, typeof(ListReply))]
[Union(4, typeof(GenerateRequest))]
[Union(5, typeof(Accepted))]
[Union(6, typeof(Progress))]
[Union(7, typeof(GenerateResult))]
[Union(8, typeof(Cancel))]
[Union(9, typeof(Cancelled))]
[Union(10, typeof(BridgeError))]
public abstract class BridgeMessage
{
    /// <summary>The request this message is or answers; 0 for messages about the connection.</summary>
    [Key(0)]
    public int RequestId { get; set; }
}

/// <summary>Client → host, first on every connection: the versions it speaks, and for TCP the token.</summary>
[MessagePackObject]
public sealed class Hello : BridgeMessage
{
    /// <summary>The newest protocol version the client speaks.</summary>
    [Key(1)]
    public int ProtocolVersion { get; set; } = BridgeProtocol.Version;

    /// <summary>The oldest protocol version the client still speaks.</summary>
    [Key(2)]
    public int MinProtocolVersion { get; set; } = BridgeProtocol.MinVersion;

    /// <summary>Name and version of the client software, for the host's log.</summary>
    [Key(3)]
    public string? Software { get; set; }

    /// <summary>The token from the host's token file; required on TCP, ignored on the Unix socket.</summary>
    [Key(4)]
    public string? Token { get; set; }

    /// <summary>What the client can handle (see <see cref="Capabilities"/>); informational.</summary>
    [Key(5)]
    public List<string>? Capabilities { get; set; }
}

/// <summary>Host → client, the answer to <see cref="Hello"/>: the agreed version, what the host can do and its limits.</summary>
[MessagePackObject]
public sealed class Welcome : BridgeMessage
{
    /// <summary>The protocol version both sides use from now on.</summary>
    [Key(1)]
    public int ProtocolVersion { get; set; }

    /// <summary>Name and version of the host.</summary>
    [Key(2)]
    public string? Software { get; set; }

    /// <summary>What the loaded model and host can do (see <see cref="Capabilities"/>).</summary>
    [Key(3)]
    public List<string> Capabilities { get; set; } = new List<string>();

    /// <summary>The limits requests must keep to.</summary>
    [Key(4)]
    public BridgeLimitsInfo Limits { get; set; } = new BridgeLimitsInfo();

    /// <summary>The model the host serves.</summary>
    [Key(5)]
    public ModelInfo? Model { get; set; }
}

/// <summary>Client → host: list the models, samplers and plugins.</summary>
[MessagePackObject]
public sealed class ListRequest : BridgeMessage
{
}

/// <summary>Host → client, the answer to <see cref="ListRequest"/>.</summary>
[MessagePackObject]
public sealed class ListReply : BridgeMessage
{
    /// <summary>The models the host can draw with.</summary>
    [Key(1)]
    public List<ModelInfo> Models { get; set; } = new List<ModelInfo>();

    /// <summary>The sampler names a request may name.</summary>
    [Key(2)]
    public List<string> Samplers { get; set; } = new List<string>();

    /// <summary>The host's plugins and their status.</summary>
    [Key(3)]
    public List<PluginSummary> Plugins { get; set; } = new List<PluginSummary>();
}

/// <summary>
/// Client → host: draw an image. Unset optional fields take the model's defaults. Tiling, the
/// style reference and paint-with-words are only accepted when the host lists the matching
/// capability in <see cref="Welcome.Capabilities"/>; otherwise the reply is an error with code
/// <see cref="ErrorCodes.Unsupported"/>.
/// </summary>
[MessagePackObject]
public sealed class GenerateRequest : BridgeMessage
{
    /// <summary>What to draw.</summary>
    [Key(1)]
    public string Prompt { get; set; } = "";

    /// <summary>The seed; null for a random one (the result says which).</summary>
    [Key(2)]
    public long? Seed { get; set; }

    /// <summary>Sampler steps; null for the model's default.</summary>
    [Key(3)]
    public int? Steps { get; set; }

    /// <summary>Classifier-free guidance weight (1 = none); null for the model's default.</summary>
    [Key(4)]
    public double? Guidance { get; set; }

    /// <summary>Width in pixels; 0 for the model's resolution.</summary>
    [Key(5)]
    public int Width { get; set; }

    /// <summary>Height in pixels; 0 for the model's resolution.</summary>
    [Key(6)]
    public int Height { get; set; }

    /// <summary>Sampler name; null for the host's default.</summary>
    [Key(7)]
    public string? Sampler { get; set; }

    /// <summary>Ask for a seamlessly tiling texture (capability <see cref="Capabilities.Tiling"/>).</summary>
    [Key(8)]
    public bool Tiling { get; set; }

    /// <summary>Style reference image (capability <see cref="Capabilities.StyleReference"/>).</summary>
    [Key(9)]
    public ImageData? StyleImage { get; set; }

    /// <summary>Paint-with-words scribble: each colour of <see cref="Legend"/> marks where its phrase goes (capability <see cref="Capabilities.PaintWithWords"/>).</summary>
    [Key(10)]
    public ImageData? Scribble { get; set; }

    /// <summary>The scribble's colour legend.</summary>
    [Key(11)]
    public List<LegendEntry>? Legend { get; set; }

    /// <summary>Side of the square preview images sent with progress; 0 for none.</summary>
    [Key(12)]
    public int PreviewSize { get; set; }

    /// <summary>How strongly <see cref="StyleImage"/> steers the style (it scales the CLIP image embedding); 0 for the host's default, 1.</summary>
    [Key(13)]
    public double StyleStrength { get; set; }

    /// <summary>
    /// Inputs of the host's conditioners by name (for example "palette"), each as text or bytes; the host lists
    /// the ones its model takes as "conditioner:NAME" capabilities. Null or empty for none.
    /// </summary>
    [Key(14)]
    public List<ConditionEntry>? Conditions { get; set; }

    /// <summary>
    /// The axes a tiling texture wraps along: "x", "y" or "xy" (capability <see cref="Capabilities.Tiling"/>); null or empty
    /// reads <see cref="Tiling"/> (true: "xy"), which older clients send.
    /// </summary>
    [Key(15)]
    public string? TileAxes { get; set; }

    /// <summary>An image to start from (img2img, capability <see cref="Capabilities.ImageToImage"/>) or to repair (with <see cref="Mask"/>).</summary>
    [Key(16)]
    public ImageData? InitImage { get; set; }

    /// <summary>Where to regenerate <see cref="InitImage"/>: white regenerates, black keeps; the init's size (capability <see cref="Capabilities.Inpainting"/>).</summary>
    [Key(17)]
    public ImageData? Mask { get; set; }

    /// <summary>img2img strength, 0 (keep the init) to 1; null for the host's default.</summary>
    [Key(18)]
    public double? Strength { get; set; }

    /// <summary>A second seed whose noise is mixed in (capability <see cref="Capabilities.Variations"/>); null for none.</summary>
    [Key(19)]
    public long? VariationSeed { get; set; }

    /// <summary>How far toward <see cref="VariationSeed"/>'s noise, 0 to 1.</summary>
    [Key(20)]
    public double VariationStrength { get; set; }

    /// <summary>Make <see cref="InitImage"/> seamless: regenerate a band around its wrap seams with tiling on (capability <see cref="Capabilities.MakeTileable"/>).</summary>
    [Key(21)]
    public bool MakeTileable { get; set; }

    /// <summary>
    /// Also render the texture as a material on a sphere and a tiled plane, this many pixels high (twice as wide), and
    /// return it as <see cref="GenerateResult.MaterialPreview"/> (capability <see cref="Capabilities.MaterialPreview"/>); 0 for none.
    /// </summary>
    [Key(22)]
    public int MaterialPreviewSize { get; set; }

    /// <summary>Also derive PBR maps (height, normal, roughness, occlusion) from the albedo and return them as <see cref="GenerateResult.Maps"/> (capability <see cref="Capabilities.Pbr"/>).</summary>
    [Key(23)]
    public bool Pbr { get; set; }

    /// <summary>The normal map's green convention with <see cref="Pbr"/>: "opengl" (Unity, Godot, Blender) or "directx" (Unreal); null or empty for "opengl".</summary>
    [Key(24)]
    public string? NormalConvention { get; set; }

    /// <summary>With <see cref="Mask"/> or <see cref="MakeTileable"/>: run each piece of the schedule this many times, noising back between the runs (RePaint's resampling); 0 or 1 for none.</summary>
    [Key(25)]
    public int Resample { get; set; }

    /// <summary>Steps per resampled piece with <see cref="Resample"/>; 0 for the host's default (an eighth of the steps).</summary>
    [Key(26)]
    public int JumpLength { get; set; }

    /// <summary>Per-stage settings of the super-resolution cascade (steps, guidance, σ_aug, σ_max); null or empty for the model's defaults.</summary>
    [Key(27)]
    public List<StageEntry>? Stages { get; set; }

    /// <summary>
    /// With tiling: circular padding alone, without rolling the image by a fresh offset before every network evaluation
    /// (the roll is on by default; it keeps the networks' cell grid and edge habits off the wrap seam).
    /// </summary>
    [Key(28)]
    public bool NoTileShift { get; set; }
}

/// <summary>Host → client: the request is queued; progress, then a result, an error or a cancellation follow.</summary>
[MessagePackObject]
public sealed class Accepted : BridgeMessage
{
    /// <summary>Jobs queued or running on the host (all clients) when this one was accepted.</summary>
    [Key(1)]
    public int JobsAhead { get; set; }
}

/// <summary>Host → client: one step of a job; one message per sampler step (the sampler's step record).</summary>
[MessagePackObject]
public sealed class Progress : BridgeMessage
{
    /// <summary>The stage (see <see cref="Stages"/>).</summary>
    [Key(1)]
    public string Stage { get; set; } = Stages.Base;

    /// <summary>The step's index in this stage, 0-based (the sampler's step record's index).</summary>
    [Key(2)]
    public int Step { get; set; }

    /// <summary>Steps of this stage.</summary>
    [Key(3)]
    public int Steps { get; set; }

    /// <summary>The noise level σ the step started from (0 outside sampling).</summary>
    [Key(4)]
    public double Sigma { get; set; }

    /// <summary>A small preview of the denoiser's current estimate, when the request asked for one.</summary>
    [Key(5)]
    public ImageData? Preview { get; set; }
}

/// <summary>Host → client: the finished image of a <see cref="GenerateRequest"/>.</summary>
[MessagePackObject]
public sealed class GenerateResult : BridgeMessage
{
    /// <summary>Width in pixels.</summary>
    [Key(1)]
    public int Width { get; set; }

    /// <summary>Height in pixels.</summary>
    [Key(2)]
    public int Height { get; set; }

    /// <summary>
    /// RGBA8 pixels, row-major, top row first (Unity's textures start at the bottom row). Yours to
    /// keep; <see cref="ImageBuffers.Return"/> lets the next result reuse the array.
    /// </summary>
    [Key(3)]
    [MessagePackFormatter(typeof(PooledBytesFormatter))]
    public byte[] Rgba { get; set; } = System.Array.Empty<byte>();

    /// <summary>The seed used.</summary>
    [Key(4)]
    public long Seed { get; set; }

    /// <summary>Every setting the image was drawn with, defaults resolved.</summary>
    [Key(5)]
    public GenerationSettings Settings { get; set; } = new GenerationSettings();

    /// <summary>Milliseconds the job ran on the device.</summary>
    [Key(6)]
    public double ElapsedMilliseconds { get; set; }

    /// <summary>Warnings and notes about the request that did not stop it (for example scribble colours missing from the legend); null when none.</summary>
    [Key(7)]
    public List<string>? Notes { get; set; }

    /// <summary>The material preview asked for by <see cref="GenerateRequest.MaterialPreviewSize"/>; null when none was asked or none could be rendered (a note says why).</summary>
    [Key(8)]
    public ImageData? MaterialPreview { get; set; }

    /// <summary>The PBR maps asked for by <see cref="GenerateRequest.Pbr"/>, derived from <see cref="Rgba"/> and tiling with it; null when none were asked.</summary>
    [Key(9)]
    public MaterialMaps? Maps { get; set; }
}

/// <summary>Client → host: cancel the job whose <see cref="GenerateRequest"/> had <see cref="BridgeMessage.RequestId"/>.</summary>
[MessagePackObject]
public sealed class Cancel : BridgeMessage
{
}

/// <summary>Host → client: the job ended by cancellation (from the queue, or between two evaluations).</summary>
[MessagePackObject]
public sealed class Cancelled : BridgeMessage
{
    /// <summary>True when the job had started on the device.</summary>
    [Key(1)]
    public bool WasRunning { get; set; }
}

/// <summary>Host → client: something failed. <see cref="BridgeMessage.RequestId"/> is the request's, or 0.</summary>
[MessagePackObject]
public sealed class BridgeError : BridgeMessage
{
    /// <summary>A stable code from <see cref="ErrorCodes"/>.</summary>
    [Key(1)]
    public string Code { get; set; } = ErrorCodes.Internal;

    /// <summary>What went wrong, for a person.</summary>
    [Key(2)]
    public string Message { get; set; } = "";
}
