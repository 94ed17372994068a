using EDiffI.Conditioning;
using EDiffI.Sampling;
using EDiffI.SuperResolution;
using Microsoft.Extensions.Configuration;
using static TorchSharp.torch;

namespace EDiffI.Host.Pipeline;

/// <summary>Opens a model folder as a <see cref="GenerationService"/> with the samplers, schedules and conditioners the plugins provide.</summary>
public sealed class GenerationServiceFactory(ModelCatalog catalog, IEnumerable<ISampler> samplers, IEnumerable<ISigmaSchedule> schedules,
    IEnumerable<IConditioner> conditioners, IConfiguration configuration, IEnumerable<ISuperResolutionFamily>? stages = null)
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
        Cascade? cascade = null;
        try
        {
            cascade = Cascade.Load(pipeline.Manifest, ModelFolderOf(folder), pipeline.Network.Resolution, stages ?? [], device, computeType);
            return new GenerationService(pipeline, samplers, schedules, conditioners, configuration, ownsPipeline: true, cascade,
                HeightOf(pipeline.Manifest, ModelFolderOf(folder), device));
        }
        catch
        {
            cascade?.Dispose();
            pipeline.Dispose();
            throw;
        }
    }

    /// <summary>Serves an already loaded <paramref name="pipeline"/> (with its cascade, owned with it when <paramref name="ownsPipeline"/>).</summary>
    public GenerationService Serve(TextToImagePipeline pipeline, bool ownsPipeline = false, Cascade? cascade = null) =>
        new(pipeline, samplers, schedules, conditioners, configuration, ownsPipeline, cascade);

    // The model's height estimator, loaded when the PBR maps first need it.
    private HeightEstimatorSource? HeightOf(ModelManifest manifest, string modelFolder, Device device) => manifest.Height is not { } spec ? null
        : new HeightEstimatorSource(spec.Kind, catalog.HasHeightEstimator(spec.Kind) ? () => catalog.LoadHeightEstimator(spec, modelFolder, device) : null);

    // The folder the cascade's stage folders are relative to: an adapter's base, whose manifest the pipeline carries.
    private static string ModelFolderOf(string folder)
    {
        var manifest = ModelManifest.Load(folder);
        return manifest.Base is { } baseName ? Path.GetFullPath(Path.Combine(folder, baseName)) : folder;
    }
}
