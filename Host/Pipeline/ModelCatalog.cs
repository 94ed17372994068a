using EDiffI.Encoders;
using EDiffI.Experts;
using EDiffI.Host.Runtime;
using EDiffI.Networks;
using EDiffI.Textures;
using static TorchSharp.torch;

namespace EDiffI.Host.Pipeline;

/// <summary>
/// The network families, encoder kinds, routers and placements the loaded plugins provide, looked up by name (or,
/// for training's encoders, by the stream a kind claims). <see cref="ModelLoader"/> assembles models from them.
/// </summary>
public sealed class ModelCatalog(IEnumerable<INetworkFamily> families, IEnumerable<ITextEncoderFactory> encoders,
    IEnumerable<IImageEncoderFactory>? imageEncoders = null, IEnumerable<IExpertRouterFactory>? routers = null,
    IExpertPlacementFactory? placements = null, IEnumerable<IHeightEstimatorFactory>? heightEstimators = null)
{
    private readonly List<IHeightEstimatorFactory> _heightEstimators = heightEstimators?.ToList() ?? [];
    private readonly List<INetworkFamily> _families = families.ToList();
    private readonly List<ITextEncoderFactory> _encoders = encoders.ToList();
    private readonly List<IImageEncoderFactory> _imageEncoders = imageEncoders?.ToList() ?? [];
    private readonly List<IExpertRouterFactory> _routers = routers?.ToList() ?? [];

    /// <summary>The expert placements (resident, low-memory), or null when no plugin provides them.</summary>
    public IExpertPlacementFactory? Placements => placements;

    /// <summary>Builds the image encoder a spec names.</summary>
    public IImageEncoder CreateImageEncoder(ImageEncoderSpec spec, string? modelFolder) =>
        Loading($"image encoder '{spec.Kind}'", () => ImageFactory(spec.Kind).Create(spec, modelFolder));

    /// <summary>The router an ensemble names, built over its experts.</summary>
    public IExpertRouter CreateRouter(ExpertEnsembleSpec ensemble)
    {
        var factory = _routers.FirstOrDefault(f => string.Equals(f.Kind, ensemble.Router, StringComparison.OrdinalIgnoreCase))
            ?? throw new UserException($"No plugin provides the expert router '{ensemble.Router}' (available: {Names(_routers.Select(f => f.Kind))}; see `plugins`).");
        try
        {
            return factory.Create(ensemble);
        }
        catch (InvalidDataException e)
        {
            throw new UserException(e.Message, e);
        }
    }

    /// <summary>Whether a plugin provides the expert router <paramref name="kind"/>.</summary>
    public bool HasRouter(string kind) => _routers.Any(f => string.Equals(f.Kind, kind, StringComparison.OrdinalIgnoreCase));

    /// <summary>The network family of <paramref name="kind"/>.</summary>
    public INetworkFamily Family(string kind) =>
        _families.FirstOrDefault(f => string.Equals(f.Kind, kind, StringComparison.OrdinalIgnoreCase))
        ?? throw new UserException($"No plugin provides the network '{kind}' (available: {Names(_families.Select(f => f.Kind))}; see `plugins`).");

    /// <summary>Builds the encoder a spec names.</summary>
    public ITextEncoder CreateEncoder(TextEncoderSpec spec, string? modelFolder) =>
        Loading($"text encoder '{spec.Kind}'", () => TextFactory(spec.Kind).Create(spec, modelFolder));

    /// <summary>Widths and token count of the encoder a spec names, from its configuration (no weights are loaded).</summary>
    public TextEncoderShape DescribeEncoder(TextEncoderSpec spec, string? modelFolder) =>
        Loading($"text encoder '{spec.Kind}'", () => TextFactory(spec.Kind).Describe(spec, modelFolder));

    /// <summary>Embedding width of the image encoder a spec names, from its configuration (no weights are loaded).</summary>
    public int DescribeImageEncoder(ImageEncoderSpec spec, string? modelFolder) =>
        Loading($"image encoder '{spec.Kind}'", () => ImageFactory(spec.Kind).Describe(spec, modelFolder));

    /// <summary>Whether a plugin provides the text encoder <paramref name="kind"/>.</summary>
    public bool HasTextEncoder(string kind) => FindText(kind) is not null;

    /// <summary>Whether a plugin provides the image encoder <paramref name="kind"/>.</summary>
    public bool HasImageEncoder(string kind) => FindImage(kind) is not null;

    /// <summary>The text encoder kinds the plugins provide, for messages.</summary>
    public string TextEncoderNames => Names(_encoders.Select(f => f.Kind));

    /// <summary>The image encoder kinds the plugins provide, for messages.</summary>
    public string ImageEncoderNames => Names(_imageEncoders.Select(f => f.Kind));

    /// <summary>
    /// The spec of the encoder that reads the checkpoint folder <paramref name="folder"/> for <paramref name="stream"/>:
    /// the kind that claims the stream (<see cref="ITextEncoderFactory.CheckpointStream"/>) fills it in from the folder.
    /// <paramref name="option"/> names where the folder came from in messages (<c>--t5</c>).
    /// </summary>
    public TextEncoderSpec CheckpointSpec(TextStream stream, string folder, string option)
    {
        var factory = _encoders.FirstOrDefault(f => f.CheckpointStream == stream)
            ?? throw new UserException($"{option}: no plugin reads checkpoint folders for the {stream} stream (text encoders: {Names(_encoders.Select(f => f.Kind))}; see `plugins`).");
        string full = Path.GetFullPath(folder);
        try
        {
            return factory.ForCheckpoint(full);
        }
        catch (Exception e) when (e is FileNotFoundException or InvalidDataException or DirectoryNotFoundException or ArgumentException)
        {
            throw new UserException($"{option} '{folder}' is not a '{factory.Kind}' checkpoint folder: {e.Message}", e);
        }
    }

    /// <summary>
    /// The image encoder held by the same checkpoint folder as <paramref name="text"/> (CLIP's vision tower beside
    /// its text tower, <see cref="IImageEncoderFactory.CompanionOf"/>), or null when no plugin provides one.
    /// </summary>
    public ImageEncoderSpec? CompanionImageSpec(TextEncoderSpec text)
    {
        if (text.Path is null) return null;
        var factory = _imageEncoders.FirstOrDefault(f => string.Equals(f.CompanionOf, text.Kind, StringComparison.OrdinalIgnoreCase));
        return factory is null ? null : new ImageEncoderSpec { Kind = factory.Kind, Path = text.Path };
    }

    /// <summary>
    /// The spec of the weightless stand-in encoder (<see cref="ITextEncoderFactory.IsStandIn"/>) a stream is trained
    /// with when it is given no checkpoint.
    /// </summary>
    public TextEncoderSpec StandInSpec(int dimension, int maxTokens, long seed)
    {
        var factory = _encoders.FirstOrDefault(f => f.IsStandIn)
            ?? throw new UserException($"No plugin provides a weightless stand-in text encoder (text encoders: {Names(_encoders.Select(f => f.Kind))}); name checkpoints with --t5 and --clip, or 'none'.");
        return new TextEncoderSpec { Kind = factory.Kind, Dimension = dimension, MaxTokens = maxTokens, Seed = seed };
    }

    private ITextEncoderFactory? FindText(string kind) =>
        _encoders.FirstOrDefault(f => string.Equals(f.Kind, kind, StringComparison.OrdinalIgnoreCase));

    private IImageEncoderFactory? FindImage(string kind) =>
        _imageEncoders.FirstOrDefault(f => string.Equals(f.Kind, kind, StringComparison.OrdinalIgnoreCase));

    private ITextEncoderFactory TextFactory(string kind) => FindText(kind)
        ?? throw new UserException($"No plugin provides the text encoder '{kind}' (available: {TextEncoderNames}; see `plugins`).");

    private IImageEncoderFactory ImageFactory(string kind) => FindImage(kind)
        ?? throw new UserException($"No plugin provides the image encoder '{kind}' (available: {ImageEncoderNames}; see `plugins`).");

    /// <summary>Whether a plugin provides the height estimator <paramref name="kind"/>.</summary>
    public bool HasHeightEstimator(string kind) => _heightEstimators.Any(f => string.Equals(f.Kind, kind, StringComparison.OrdinalIgnoreCase));

    /// <summary>The height estimator kinds the plugins provide, for messages.</summary>
    public string HeightEstimatorNames => Names(_heightEstimators.Select(f => f.Kind));

    /// <summary>Loads the height estimator <paramref name="spec"/> names from its folder under <paramref name="modelFolder"/>.</summary>
    /// <exception cref="UserException">When no plugin provides the kind or its files cannot be loaded.</exception>
    public IHeightEstimator LoadHeightEstimator(HeightEstimatorSpec spec, string modelFolder, Device device)
    {
        var factory = _heightEstimators.FirstOrDefault(f => string.Equals(f.Kind, spec.Kind, StringComparison.OrdinalIgnoreCase))
            ?? throw new UserException($"No plugin provides the height estimator '{spec.Kind}' (available: {HeightEstimatorNames}; see `plugins`).");
        return Loading($"height estimator '{spec.Kind}'", () => factory.Load(Path.Combine(modelFolder, spec.Path), device));
    }

    // A plugin reports files the user gave that it cannot read as these; the user sees them as messages.
    private static T Loading<T>(string what, Func<T> load)
    {
        try
        {
            return load();
        }
        catch (Exception e) when (e is FileNotFoundException or InvalidDataException or DirectoryNotFoundException)
        {
            throw new UserException($"The model's {what} cannot be loaded: {e.Message}", e);
        }
    }

    private static string Names(IEnumerable<string> names) => names.Any() ? string.Join(", ", names) : "none";
}
