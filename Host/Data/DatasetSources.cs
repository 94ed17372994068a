using EDiffI.Data;
using EDiffI.Host.Runtime;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace EDiffI.Host.Data;

/// <summary>
/// Opens a training source named on the command line as scheme:argument, through the factory registered
/// for its scheme: the host's "folder:" and "cache:", and the plugins' (such as "world:"). A name without
/// a scheme, or one that is an existing folder, is a folder.
/// </summary>
public static class DatasetSources
{
    /// <summary>Adds the host's own sources, "folder:" and "cache:".</summary>
    /// <param name="services">The services to add to.</param>
    /// <returns><paramref name="services"/>.</returns>
    public static IServiceCollection AddHostDatasetSources(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IDatasetSourceFactory, FolderSourceFactory>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IDatasetSourceFactory, EmbeddingCacheSourceFactory>());
        return services;
    }

    /// <summary>The source <paramref name="name"/> names, at <paramref name="resolution"/> pixels.</summary>
    public static IDatasetSource Open(string name, int resolution, IEnumerable<IDatasetSourceFactory> factories) =>
        Open(name, resolution, factories, (factory, argument) => factory.Create(argument, resolution));

    /// <summary>
    /// The source <paramref name="name"/> names as crops of <paramref name="crop"/> pixels of <paramref name="resolution"/>-pixel
    /// images with the same crops at <paramref name="lowResolution"/> (a super-resolution stage's training data).
    /// </summary>
    public static IDatasetSource OpenPaired(string name, int resolution, int lowResolution, int crop, IEnumerable<IDatasetSourceFactory> factories) =>
        Open(name, resolution, factories, (factory, argument) => factory.CreatePaired(argument, resolution, lowResolution, crop)
            ?? throw new UserException($"The data source '{name}' cannot give a super-resolution stage its crops at two resolutions yet; train stages on world:train."));

    private static IDatasetSource Open(string name, int resolution, IEnumerable<IDatasetSourceFactory> factories, Func<IDatasetSourceFactory, string, IDatasetSource> create)
    {
        if (resolution < 8 || resolution > 4096) throw new UserException($"The resolution must be between 8 and 4096 pixels (got {resolution}).");
        if (string.IsNullOrWhiteSpace(name)) throw new UserException("Name a data source: a folder of captioned images, or for example world:train.");
        // "C:\data" has its colon at 1: a drive letter, not a scheme.
        int colon = name.IndexOf(':', StringComparison.Ordinal);
        var (scheme, argument) = colon > 1 && !Directory.Exists(name)
            ? (name[..colon], name[(colon + 1)..])
            : (FolderSourceFactory.FolderScheme, name);
        var factory = factories.FirstOrDefault(f => string.Equals(f.Scheme, scheme, StringComparison.OrdinalIgnoreCase))
            ?? throw new UserException($"No data source answers to '{scheme}:' (available: " +
                $"{string.Join(", ", factories.Select(f => f.Scheme + ":").DefaultIfEmpty("none"))}; a plain path is a folder; `plugins` lists the plugins).");
        try
        {
            return create(factory, argument);
        }
        catch (ArgumentException e)
        {
            throw new UserException($"{e.Message}.", e);
        }
    }
}
