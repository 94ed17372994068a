using EDiffI.Encoders;
using EDiffI.Experts;
using EDiffI.Host.Runtime;
using EDiffI.Networks;

namespace EDiffI.Host.Pipeline;

/// <summary>The network families and text encoder kinds the loaded plugins provide, looked up by name.</summary>
public sealed class ModelCatalog(IEnumerable<INetworkFamily> families, IEnumerable<ITextEncoderFactory> encoders,
    IEnumerable<IImageEncoderFactory>? imageEncoders = null, IEnumerable<IExpertRouterFactory>? routers = null,
    IExpertPlacementFactory? placements = null)
{
    private readonly List<INetworkFamily> _families = families.ToList();
    private readonly List<ITextEncoderFactory> _encoders = encoders.ToList();
    private readonly List<IImageEncoderFactory> _imageEncoders = imageEncoders?.ToList() ?? [];
    private readonly List<IExpertRouterFactory> _routers = routers?.ToList() ?? [];

    /// <summary>The expert placements (resident, low-memory), or null when no plugin provides them.</summary>
    public IExpertPlacementFactory? Placements => placements;

    /// <summary>Builds the image encoder a spec names.</summary>
    public IImageEncoder CreateImageEncoder(ImageEncoderSpec spec, string? modelFolder)
    {
        var factory = _imageEncoders.FirstOrDefault(f => string.Equals(f.Kind, spec.Kind, StringComparison.OrdinalIgnoreCase))
            ?? throw new UserException($"No plugin provides the image encoder '{spec.Kind}' (available: {Names(_imageEncoders.Select(f => f.Kind))}; see `plugins`).");
        return Loading($"image encoder '{spec.Kind}'", () => factory.Create(spec, modelFolder));
    }

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

    /// <summary>The network family of <paramref name="kind"/>.</summary>
    public INetworkFamily Family(string kind) =>
        _families.FirstOrDefault(f => string.Equals(f.Kind, kind, StringComparison.OrdinalIgnoreCase))
        ?? throw new UserException($"No plugin provides the network '{kind}' (available: {Names(_families.Select(f => f.Kind))}; see `plugins`).");

    /// <summary>Builds the encoder a spec names.</summary>
    public ITextEncoder CreateEncoder(TextEncoderSpec spec, string? modelFolder)
    {
        var factory = _encoders.FirstOrDefault(f => string.Equals(f.Kind, spec.Kind, StringComparison.OrdinalIgnoreCase))
            ?? throw new UserException($"No plugin provides the text encoder '{spec.Kind}' (available: {Names(_encoders.Select(f => f.Kind))}; see `plugins`).");
        return Loading($"text encoder '{spec.Kind}'", () => factory.Create(spec, modelFolder));
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
