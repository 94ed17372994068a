using System.Diagnostics;
using EDiffI.Bridge.Protocol;
using EDiffI.Host.Imaging;
using EDiffI.Host.Pipeline;
using EDiffI.Sampling;
using static TorchSharp.torch;

namespace EDiffI.Host.Bridge;

/// <summary>Runs bridge jobs through a loaded <see cref="TextToImagePipeline"/> (the model is loaded once).</summary>
public sealed class PipelineJobExecutor : IJobExecutor
{
    private readonly TextToImagePipeline _pipeline;
    private readonly IReadOnlyList<ISampler> _samplers;
    private readonly ISigmaSchedule _schedule;
    private readonly string _defaultSampler;

    /// <summary>Serves <paramref name="pipeline"/> (not owned) under <paramref name="modelName"/>.</summary>
    public PipelineJobExecutor(TextToImagePipeline pipeline, string modelName, IEnumerable<ISampler> samplers, ISigmaSchedule schedule, string defaultSampler)
    {
        _pipeline = pipeline;
        _samplers = samplers.ToList();
        _schedule = schedule;
        _defaultSampler = defaultSampler;
        if (FindSampler(defaultSampler) is null)
            throw new Runtime.UserException($"Unknown sampler '{defaultSampler}' (available: {string.Join(", ", _samplers.Select(s => s.Name))}).");
        Model = new ModelInfo
        {
            Name = modelName,
            Resolution = pipeline.Network.Resolution,
            DefaultSteps = pipeline.Manifest.DefaultSteps,
            DefaultGuidance = pipeline.Manifest.DefaultGuidance,
            DefaultSampler = defaultSampler,
        };
        Capabilities = FeatureCapabilities();
    }

    /// <inheritdoc />
    public ModelInfo Model { get; }

    /// <inheritdoc />
    public IReadOnlyList<string> Samplers => _samplers.Select(s => s.Name).ToList();

    /// <inheritdoc />
    public IReadOnlyCollection<string> Capabilities { get; }

    /// <summary>
    /// The one place where the pipeline's optional features become capabilities. Tiling, the style
    /// reference and paint-with-words are carried by the protocol already; when the pipeline gains
    /// them, list them here and pass the request's fields on in <see cref="Execute"/>.
    /// </summary>
    private static HashSet<string> FeatureCapabilities() =>
        [EDiffI.Bridge.Protocol.Capabilities.Generate, EDiffI.Bridge.Protocol.Capabilities.Preview];

    /// <inheritdoc />
    public BridgeError? Check(GenerateRequest request)
    {
        if (request.Sampler is { } name && FindSampler(name) is null)
            return new BridgeError { RequestId = request.RequestId, Code = ErrorCodes.InvalidRequest, Message = $"Unknown sampler '{name}' (available: {string.Join(", ", Samplers)})." };
        int size = Model.Resolution;
        if ((request.Width != 0 && request.Width != size) || (request.Height != 0 && request.Height != size))
            return new BridgeError
            {
                RequestId = request.RequestId, Code = ErrorCodes.Unsupported,
                Message = $"This host's model draws {size}×{size} images only (asked for {request.Width}×{request.Height}); use 0 or {size} (no super-resolution stage is loaded).",
            };
        return null;
    }

    /// <inheritdoc />
    public GenerateResult Execute(GenerateRequest request, Action<Progress> progress, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var sampler = FindSampler(request.Sampler ?? _defaultSampler)!;
        long seed = request.Seed ?? Random.Shared.NextInt64(0, int.MaxValue);
        var generation = new GenerationRequest(request.Prompt, seed, request.Steps ?? Model.DefaultSteps, request.Guidance ?? Model.DefaultGuidance);
        int preview = Math.Min(request.PreviewSize, Model.Resolution);
        // Wire tiling, the style reference and paint-with-words here once the pipeline has them
        // (request.Tiling, request.StyleImage, request.Scribble with request.Legend).
        using var images = _pipeline.Generate(generation, sampler, _schedule, (in SamplerStep step) => progress(new Progress
        {
            RequestId = request.RequestId,
            Stage = Stages.Sampling,
            Step = step.Index,
            Steps = step.Count,
            Sigma = step.Sigma,
            Preview = preview > 0 ? Preview(step.Denoised, preview) : null,
        }), cancellationToken: cancellationToken);
        using var image = images[0];
        byte[] rgba = ImageFiles.ToRgba8(image, out int width, out int height);
        return new GenerateResult
        {
            RequestId = request.RequestId,
            Width = width,
            Height = height,
            Rgba = rgba,
            Seed = seed,
            Settings = new GenerationSettings
            {
                Prompt = request.Prompt, Steps = generation.Steps, Guidance = generation.Guidance, Sampler = sampler.Name,
                Width = width, Height = height, Tiling = false, Model = Model.Name,
            },
            ElapsedMilliseconds = clock.Elapsed.TotalMilliseconds,
        };
    }

    // The denoiser's current estimate of image 0, resized to size × size, as RGBA8.
    private static ImageData Preview(Tensor denoised, int size)
    {
        using var scope = NewDisposeScope();
        var first = denoised[0].unsqueeze(0).to(ScalarType.Float32);
        var small = size == first.shape[^1] ? first : nn.functional.interpolate(first, [size, size], mode: InterpolationMode.Area);
        byte[] rgba = ImageFiles.ToRgba8(small[0].clamp(-1, 1), out int width, out int height);
        return new ImageData { Width = width, Height = height, Rgba = rgba };
    }

    private ISampler? FindSampler(string name) =>
        _samplers.FirstOrDefault(s => string.Equals(s.Name, name, StringComparison.OrdinalIgnoreCase));
}
