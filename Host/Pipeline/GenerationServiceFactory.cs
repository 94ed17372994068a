using EDiffI.Conditioning;
using EDiffI.Sampling;
using Microsoft.Extensions.Configuration;
using static TorchSharp.torch;

namespace EDiffI.Host.Pipeline;

/// <summary>Opens a model folder as a <see cref="GenerationService"/> with the samplers, schedules and conditioners the plugins provide.</summary>
public sealed class GenerationServiceFactory(ModelCatalog catalog, IEnumerable<ISampler> samplers, IEnumerable<ISigmaSchedule> schedules,
    IEnumerable<IConditioner> conditioners, IConfiguration configuration)
{
    /// <summary>The model catalog models load through.</summary>
    public ModelCatalog Catalog => catalog;

    /// <summary>
    /// Loads <paramref name="folder"/> onto <paramref name="device"/> in <paramref name="computeType"/> (experts placed
    /// as <paramref name="placement"/> says) and serves it; the service owns the model.
    /// </summary>
    public GenerationService Open(string folder, Device device, ScalarType computeType, string placement = "resident")
    {
        var pipeline = TextToImagePipeline.Load(folder, catalog, device, computeType, placement);
        try
        {
            return Serve(pipeline, ownsPipeline: true);
        }
        catch
        {
            pipeline.Dispose();
            throw;
        }
    }

    /// <summary>Serves an already loaded <paramref name="pipeline"/>.</summary>
    public GenerationService Serve(TextToImagePipeline pipeline, bool ownsPipeline = false) =>
        new(pipeline, samplers, schedules, conditioners, configuration, ownsPipeline);
}
