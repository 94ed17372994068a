using EDiffI.Attention;
using EDiffI.Encoders;
using static TorchSharp.torch;

namespace EDiffI.Conditioning;

/// <summary>
/// A kind of conditioning a plugin adds without changing the host or the network (the ControlNet /
/// T2I-Adapter idea): it takes one named input of a generation request and turns it into any of a
/// stream for the network's generic slots (extra cross-attention tokens, a pooled vector added to the
/// time embedding, a spatial map at the input resolution), the built-in CLIP image stream, typed extras,
/// and a cross-attention processor. The null input (the conditioner not named in the request) is the
/// same as conditioning dropout, so classifier-free guidance keeps working.
/// </summary>
/// <remarks>
/// Inputs come from the CLI (<c>--cond NAME=VALUE</c>), from a named entry of the bridge's generate
/// request (text or bytes) and from a default in <c>model.json</c>; the generation service hands them
/// over unchanged. Register an implementation as a singleton <see cref="IConditioner"/> service.
/// </remarks>
public interface IConditioner
{
    /// <summary>The name requests use (lower case, for example "palette").</summary>
    string Name { get; }

    /// <summary>One line for help texts: what the input's value is (for example "up to five colours #rrggbb,...").</summary>
    string InputHelp { get; }

    /// <summary>The generic slot this conditioner fills; <see cref="ConditionerSlot.None"/> when it only uses built-in streams or processors.</summary>
    ConditionerSlot Slot { get; }

    /// <summary>
    /// Whether the conditioner can serve a model: for example style needs a CLIP image encoder and
    /// paint-with-words cross-attention. Returns null when it can, else the reason it cannot.
    /// </summary>
    string? Unavailable(ConditionerModel model) => null;

    /// <summary>
    /// Checks an input before any slow work: throws an <see cref="ArgumentException"/> whose message says
    /// what is wrong and how to fix it. The default accepts everything <see cref="Condition"/> accepts.
    /// </summary>
    void Check(ConditionerInput input, string prompt, ConditionerModel model) { }

    /// <summary>
    /// Turns <paramref name="input"/> into conditioning for a batch of <see cref="ConditionerContext.Batch"/>
    /// samples on <see cref="ConditionerContext.Device"/> (one row may stand for the whole batch). Throws an
    /// <see cref="ArgumentException"/> for an input the user can fix. Must be deterministic.
    /// </summary>
    ConditionerOutput Condition(ConditionerInput input, ConditionerContext context);
}

/// <summary>A conditioner whose input can be read off a training example, so its adapter can be trained on any captioned images.</summary>
public interface ITrainableConditioner : IConditioner
{
    /// <summary>The input that describes <paramref name="image"/> ([3, H, W] in [−1, 1], float32, CPU) with caption <paramref name="caption"/>.</summary>
    ConditionerInput InputFor(Tensor image, string caption);
}

/// <summary>The generic slot of a network that a conditioner fills; a width of 0 means the part is absent.</summary>
/// <param name="TokenWidth">Width of each extra cross-attention token (projected to the context width by the network).</param>
/// <param name="PooledWidth">Width of the pooled vector added to the time embedding.</param>
/// <param name="SpatialChannels">Channels of the spatial map added at the network's input.</param>
public sealed record ConditionerSlot(int TokenWidth = 0, int PooledWidth = 0, int SpatialChannels = 0)
{
    /// <summary>No generic slot.</summary>
    public static ConditionerSlot None { get; } = new();

    /// <summary>True when the conditioner fills no generic slot.</summary>
    public bool IsNone => TokenWidth == 0 && PooledWidth == 0 && SpatialChannels == 0;
}

/// <summary>An RGBA8 image as a request carries it (row-major, top row first).</summary>
/// <param name="Rgba">Width × height × 4 bytes.</param>
/// <param name="Width">Pixels per row.</param>
/// <param name="Height">Rows.</param>
public sealed record ConditionerImage(byte[] Rgba, int Width, int Height)
{
    /// <summary>Throws an <see cref="ArgumentException"/> naming <paramref name="what"/> unless the size and byte count agree.</summary>
    public void CheckWellFormed(string what)
    {
        if (Width <= 0 || Height <= 0 || Rgba is null || Rgba.Length != (long)Width * Height * 4)
            throw new ArgumentException($"{what} is malformed: {Width}×{Height} needs {(long)Width * Height * 4} RGBA bytes, it has {Rgba?.Length ?? 0}.");
    }
}

/// <summary>One conditioner's input in a request: any of text, raw bytes, an image and a weight.</summary>
/// <param name="Text">Text value (CLI <c>--cond name=text</c>, a bridge entry's text).</param>
/// <param name="Bytes">Raw bytes (a bridge entry's bytes, a file the CLI read).</param>
/// <param name="Image">A decoded image (style reference, scribble).</param>
/// <param name="Weight">A strength; null for the conditioner's default.</param>
public sealed record ConditionerInput(string? Text = null, byte[]? Bytes = null, ConditionerImage? Image = null, double? Weight = null);

/// <summary>What a conditioner may know of the model it serves, before a generation.</summary>
/// <param name="Resolution">Side of the images the network draws.</param>
/// <param name="TextEncoders">The model's text encoders by stream.</param>
/// <param name="ImageEncoder">The model's CLIP image encoder, or null.</param>
/// <param name="HasCrossAttention">Whether the network has cross-attention layers that take processors.</param>
/// <param name="Slots">The generic slots the model's network has, by name.</param>
public sealed record ConditionerModel(int Resolution, IReadOnlyDictionary<TextStream, ITextEncoder> TextEncoders, IImageEncoder? ImageEncoder,
    bool HasCrossAttention, IReadOnlyDictionary<string, ConditionerSlot> Slots);

/// <summary>What a conditioner gets for one generation.</summary>
/// <param name="Prompt">The request's prompt.</param>
/// <param name="Batch">Samples in the batch.</param>
/// <param name="Device">Where the network runs.</param>
/// <param name="Model">The model.</param>
/// <param name="Note">Tells the user something the conditioner let pass but wants seen (a resampled scribble...).</param>
public sealed record ConditionerContext(string Prompt, int Batch, Device Device, ConditionerModel Model, Action<string> Note);

/// <summary>What a conditioner produced; the generation service owns and disposes the tensors.</summary>
/// <param name="Stream">A stream for the network's generic slot named after the conditioner.</param>
/// <param name="ImageEmbedding">The built-in CLIP image stream, [1 or B, D] (style reference).</param>
/// <param name="Extras">Typed extras attached to the conditioning (read by processors), keyed by type.</param>
/// <param name="Processor">Cross-attention processors to swap into every network; null leaves them.</param>
/// <param name="Used">What the conditioner used, as numbers by name, for the result's settings (for example strength 1, regions 3).</param>
public sealed record ConditionerOutput(
    ConditioningStream? Stream = null,
    Tensor? ImageEmbedding = null,
    IReadOnlyDictionary<Type, object>? Extras = null,
    Func<CrossAttentionLayer, ICrossAttentionProcessor?>? Processor = null,
    IReadOnlyDictionary<string, double>? Used = null);
