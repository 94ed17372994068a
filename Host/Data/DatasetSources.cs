using EDiffI.Data;
using EDiffI.Host.Runtime;

namespace EDiffI.Host.Data;

/// <summary>Opens a training source named on the command line: a folder, or scheme:argument through a plugin.</summary>
public static class DatasetSources
{
    /// <summary>The source <paramref name="name"/> names, at <paramref name="resolution"/> pixels.</summary>
    public static IDatasetSource Open(string name, int resolution, IEnumerable<IDatasetSourceFactory> factories)
    {
        if (resolution < 8 || resolution > 4096) throw new UserException($"The resolution must be between 8 and 4096 pixels (got {resolution}).");
        if (string.IsNullOrWhiteSpace(name)) throw new UserException("Name a data source: a folder of captioned images, or for example world:train.");
        if (name.StartsWith("cache:", StringComparison.OrdinalIgnoreCase))
        {
            var cache = new EmbeddingCacheSource(name["cache:".Length..]);
            if (cache.Resolution != resolution)
            {
                cache.Dispose();
                throw new UserException($"The embedding cache holds {cache.Resolution}px images, not {resolution}px (pass --resolution {cache.Resolution}).");
            }
            return cache;
        }
        int colon = name.IndexOf(':', StringComparison.Ordinal);
        if (colon > 1 && !Directory.Exists(name))
        {
            string scheme = name[..colon];
            var factory = factories.FirstOrDefault(f => string.Equals(f.Scheme, scheme, StringComparison.OrdinalIgnoreCase))
                ?? throw new UserException($"No plugin provides the data source '{scheme}:' (available: " +
                    $"{string.Join(", ", factories.Select(f => f.Scheme + ":").DefaultIfEmpty("none"))}; or pass a folder).");
            try
            {
                return factory.Create(name[(colon + 1)..], resolution);
            }
            catch (ArgumentException e)
            {
                throw new UserException($"{e.Message}.", e);
            }
        }
        return new ImageFolderDataset(name, resolution);
    }
}
