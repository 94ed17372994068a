using EDiffI.Denoising;
using static TorchSharp.torch;

namespace EDiffI.Networks;

/// <summary>
/// A trainable EDM network F_θ as the host handles it: a TorchSharp module with a configuration,
/// saved as a folder (configuration JSON beside safetensors weights).
/// </summary>
public interface INetwork : IEdmNetwork, IDisposable
{
    /// <summary>The family that built it (for example "ediffi-unet").</summary>
    string Kind { get; }

    /// <summary>The module: parameters, state dict, device and dtype moves.</summary>
    nn.Module Module { get; }

    /// <summary>Side of the square images.</summary>
    int Resolution { get; }

    /// <summary>Image channels.</summary>
    int Channels { get; }

    /// <summary>Width of each conditioning stream the network consumes (0: not consumed).</summary>
    ConditioningWidths Conditioning { get; }

    /// <summary>Dtype the network computes in; inputs are cast to it at the boundary.</summary>
    new ScalarType ComputeType { get; set; }

    /// <summary>
    /// True when the network honours <see cref="TilingMode"/> in its conditioning (circular padding along the wrapping
    /// axes), so a periodic input gives a periodic output; the generation service refuses tiling otherwise.
    /// </summary>
    bool CanTile => false;

    /// <summary>
    /// An estimate of the memory one image's forward pass (no gradients) holds per output pixel, in bytes, at
    /// <see cref="ComputeType"/>: what a stage compares with its memory budget to decide whether to run in windows.
    /// Null when the family cannot tell.
    /// </summary>
    double? InferenceBytesPerPixel => null;

    /// <summary>The configuration as JSON, enough for <see cref="INetworkFamily.FromConfig"/> to rebuild it.</summary>
    string ConfigJson { get; }

    /// <summary>
    /// The parameters of the generic conditioning slot <paramref name="name"/> by state-dict key (what an
    /// adapter trains and ships); empty when there is none.
    /// </summary>
    IReadOnlyDictionary<string, TorchSharp.Modules.Parameter> StreamParameters(string name) => new Dictionary<string, TorchSharp.Modules.Parameter>();

    /// <summary>Writes configuration and weights (cast to <paramref name="dtype"/> when given) into <paramref name="folder"/>.</summary>
    void Save(string folder, ScalarType? dtype = null);
}

/// <summary>Widths of the conditioning streams a network consumes; 0 where it takes none.</summary>
/// <param name="T5">T5 token width.</param>
/// <param name="ClipText">CLIP text token width.</param>
/// <param name="ClipPooled">Pooled CLIP text vector width.</param>
/// <param name="ClipImage">CLIP image embedding width.</param>
/// <param name="Streams">The generic conditioning slots, by stream name; null or empty for none.</param>
/// <param name="T5Pooled">
/// Width of the pooled T5 vector (the masked mean of the T5 tokens) added to the time embedding, as the pooled CLIP
/// vector is; 0 for none, else the T5 token width.
/// </param>
public sealed record ConditioningWidths(int T5, int ClipText, int ClipPooled, int ClipImage,
    IReadOnlyDictionary<string, Conditioning.ConditionerSlot>? Streams = null, int T5Pooled = 0);

/// <summary>A kind of network a plugin provides, and how to build or load one.</summary>
public interface INetworkFamily
{
    /// <summary>The kind model folders name (model.json's "network").</summary>
    string Kind { get; }

    /// <summary>Named shapes <c>Create</c> knows.</summary>
    IReadOnlyList<string> Presets { get; }

    /// <summary>
    /// The image side a named shape is built at when no resolution is given. This default builds the shape and asks
    /// it; families override it to answer from the configuration alone.
    /// </summary>
    /// <exception cref="ArgumentException">For an unknown shape.</exception>
    int DefaultResolution(string preset)
    {
        using var network = Create(preset);
        return network.Resolution;
    }

    /// <summary>
    /// A randomly initialised network of a named shape, at <paramref name="resolution"/> when given,
    /// with text streams of width <paramref name="textDimension"/>.
    /// </summary>
    /// <exception cref="ArgumentException">For an unknown shape.</exception>
    INetwork Create(string preset, int? resolution = null, int textDimension = 64);

    /// <summary>
    /// A randomly initialised network of a named shape whose conditioning streams have exactly the
    /// <paramref name="widths"/> of the encoders it will be trained with (0 removes a stream).
    /// </summary>
    /// <exception cref="ArgumentException">For an unknown shape.</exception>
    INetwork Create(string preset, int? resolution, ConditioningWidths widths);

    /// <summary>A randomly initialised network from a configuration written by <see cref="INetwork.ConfigJson"/>.</summary>
    INetwork FromConfig(string json);

    /// <summary>Loads the network saved in <paramref name="folder"/>.</summary>
    /// <exception cref="FileNotFoundException">When the folder lacks the files.</exception>
    /// <exception cref="InvalidDataException">When they are unreadable or do not match.</exception>
    INetwork Load(string folder);

    /// <summary>
    /// Loads the network saved in <paramref name="folder"/> with extra generic conditioning slots (new ones
    /// start as their zero initialisation, so the network draws as before): the base of an adapter.
    /// </summary>
    /// <exception cref="FileNotFoundException">When the folder lacks the files.</exception>
    /// <exception cref="InvalidDataException">When they are unreadable, do not match, or a slot is invalid.</exception>
    INetwork LoadWithSlots(string folder, IReadOnlyDictionary<string, Conditioning.ConditionerSlot> slots);
}
