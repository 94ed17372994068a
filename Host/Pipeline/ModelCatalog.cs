using EDiffI.Encoders;
using EDiffI.Host.Runtime;
using EDiffI.Networks;

namespace EDiffI.Host.Pipeline;

/// <summary>The network families and text encoder kinds the loaded plugins provide, looked up by name.</summary>
public sealed class ModelCatalog(IEnumerable<INetworkFamily> families, IEnumerable<ITextEncoderFactory> encoders)
{
    private readonly List<INetworkFamily> _families = families.ToList();
    private readonly List<ITextEncoderFactory> _encoders = encoders.ToList();

    /// <summary>The network family of <paramref name="kind"/>.</summary>
    public INetworkFamily Family(string kind) =>
        _families.FirstOrDefault(f => string.Equals(f.Kind, kind, StringComparison.OrdinalIgnoreCase))
        ?? throw new UserException($"No plugin provides the network '{kind}' (available: {Names(_families.Select(f => f.Kind))}; see `plugins`).");

    /// <summary>Builds the encoder a spec names.</summary>
    public ITextEncoder CreateEncoder(TextEncoderSpec spec, string? modelFolder)
    {
        var factory = _encoders.FirstOrDefault(f => string.Equals(f.Kind, spec.Kind, StringComparison.OrdinalIgnoreCase))
            ?? throw new UserException($"No plugin provides the text encoder '{spec.Kind}' (available: {Names(_encoders.Select(f => f.Kind))}; see `plugins`).");
        return factory.Create(spec, modelFolder);
    }

    private static string Names(IEnumerable<string> names) => names.Any() ? string.Join(", ", names) : "none";
}
