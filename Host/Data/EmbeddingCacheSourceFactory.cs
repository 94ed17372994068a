using EDiffI.Data;
using EDiffI.Host.Runtime;

namespace EDiffI.Host.Data;

/// <summary>"cache:&lt;folder&gt;": an embedding cache written by <c>encode</c>.</summary>
public sealed class EmbeddingCacheSourceFactory : IDatasetSourceFactory
{
    /// <inheritdoc />
    public string Scheme => "cache";

    /// <inheritdoc />
    public string Usage => "cache:<folder>, a folder written by `encode`";

    /// <inheritdoc />
    /// <exception cref="UserException">When the folder is not a cache, or holds images of another resolution.</exception>
    public IDatasetSource Create(string argument, int resolution)
    {
        var cache = new EmbeddingCacheSource(argument);
        if (cache.Resolution != resolution)
        {
            cache.Dispose();
            throw new UserException($"The embedding cache holds {cache.Resolution}px images, not {resolution}px (pass --resolution {cache.Resolution}).");
        }
        return cache;
    }
}
