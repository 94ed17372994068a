using System.Diagnostics;
using EDiffI.Attention;
using EDiffI.Bridge.Protocol;
using EDiffI.Conditioning;
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
    private readonly IPaintWithWords? _painter;

    /// <summary>The w′ of legend entries whose strength is 0 (the host's default).</summary>
    public const double DefaultPaintWeight = 0.4;

    /// <summary>The style strength of requests that leave it at 0 (the host's default).</summary>
    public const double DefaultStyleStrength = 1.0;

    /// <summary>
    /// Serves <paramref name="pipeline"/> (not owned) under <paramref name="modelName"/>; with
    /// <paramref name="painter"/> it paints with words (its processor is swapped into the networks now).
    /// </summary>
    public PipelineJobExecutor(TextToImagePipeline pipeline, string modelName, IEnumerable<ISampler> samplers, ISigmaSchedule schedule,
        string defaultSampler, IPaintWithWords? painter = null)
    {
        _pipeline = pipeline;
        // The paint processor is plain attention for requests without regions, so it can stay in place.
        _painter = painter is not null && pipeline.SetCrossAttentionProcessor(painter.ProcessorFor) ? painter : null;
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
        Capabilities = FeatureCapabilities(pipeline.ImageEncoder is not null, _painter is not null);
    }

    /// <inheritdoc />
    public ModelInfo Model { get; }

    /// <inheritdoc />
    public IReadOnlyList<string> Samplers => _samplers.Select(s => s.Name).ToList();

    /// <inheritdoc />
    public IReadOnlyCollection<string> Capabilities { get; }

    /// <summary>
    /// The one place where the pipeline's optional features become capabilities: the style reference when
    /// the model has a CLIP image encoder, paint-with-words when a painter plugin is loaded and the network
    /// has cross-attention. Tiling is carried by the protocol already; when the pipeline gains it, list it
    /// here and pass <see cref="GenerateRequest.Tiling"/> on in <see cref="Execute"/>.
    /// </summary>
    private static HashSet<string> FeatureCapabilities(bool style, bool paint)
    {
        var capabilities = new HashSet<string> { EDiffI.Bridge.Protocol.Capabilities.Generate, EDiffI.Bridge.Protocol.Capabilities.Preview };
        if (style) capabilities.Add(EDiffI.Bridge.Protocol.Capabilities.StyleReference);
        if (paint) capabilities.Add(EDiffI.Bridge.Protocol.Capabilities.PaintWithWords);
        return capabilities;
    }

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
        if (!(request.StyleStrength >= 0) || double.IsInfinity(request.StyleStrength))
            return new BridgeError { RequestId = request.RequestId, Code = ErrorCodes.InvalidRequest, Message = $"The style strength must be 0 (the default) or more, not {request.StyleStrength}." };
        // Each legend phrase must be in the prompt: answered now rather than when the job's turn comes.
        if (_painter is not null && request.Legend is { Count: > 0 } legend)
        {
            using var scope = NewDisposeScope();
            var probe = legend.Select(e => new PaintRegion(e.Phrase, zeros(1, 1))).ToList();
            try
            {
                _painter.Attach(new ConditioningInputs(), new PaintRequest(request.Prompt, probe, 0), _pipeline.TextEncoders()).DisposeExtras();
            }
            catch (ArgumentException e)
            {
                return new BridgeError { RequestId = request.RequestId, Code = ErrorCodes.InvalidRequest, Message = e.Message };
            }
        }
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
        var notes = new List<string>();
        var (extra, styleStrength, regions) = Controls(request, notes);
        Tensor images;
        try
        {
            images = _pipeline.Generate(generation, sampler, _schedule, (in SamplerStep step) => progress(new Progress
            {
                RequestId = request.RequestId,
                Stage = Stages.Sampling,
                Step = step.Index,
                Steps = step.Count,
                Sigma = step.Sigma,
                Preview = preview > 0 ? Preview(step.Denoised, preview) : null,
            }), extra, cancellationToken);
        }
        finally
        {
            extra.DisposeExtras();
        }
        using var generated = images;
        using var image = generated[0];
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
                StyleStrength = styleStrength, PaintedRegions = regions,
            },
            ElapsedMilliseconds = clock.Elapsed.TotalMilliseconds,
            Notes = notes.Count > 0 ? notes : null,
        };
    }

    // The style reference and paint-with-words regions of a request, as conditioning extras.
    private (ConditioningInputs Extra, double StyleStrength, int Regions) Controls(GenerateRequest request, List<string> notes)
    {
        var extra = new ConditioningInputs();
        double strength = 0;
        if (request.StyleImage is { } style)
        {
            strength = request.StyleStrength == 0 ? DefaultStyleStrength : request.StyleStrength;
            using var reference = ImageFiles.FromRgba8(style.Rgba, style.Width, style.Height);
            extra = extra with { ClipImage = _pipeline.EncodeStyle(reference, strength) };
        }
        int count = 0;
        if (request.Scribble is { } scribble && _painter is not null)
        {
            var legend = new Dictionary<uint, string>();
            var weights = new Dictionary<uint, double>();
            foreach (var entry in request.Legend ?? [])
            {
                uint rgb = (uint)entry.Rgb & 0xFFFFFF;
                if (!legend.TryAdd(rgb, entry.Phrase.Trim()))
                    throw new Runtime.UserException($"The legend names colour #{rgb:x6} twice.");
                if (entry.Strength > 0) weights[rgb] = entry.Strength;
            }
            try
            {
                var regions = Scribble.Regions(scribble.Rgba, scribble.Width, scribble.Height, legend, Model.Resolution, notes.Add, weights: weights);
                count = regions.Count;
                extra = _pipeline.Paint(_painter, new PaintRequest(request.Prompt, regions, DefaultPaintWeight), extra);
                foreach (var region in regions) region.Mask.Dispose();
            }
            catch
            {
                extra.DisposeExtras();
                throw;
            }
        }
        return (extra, strength, count);
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
