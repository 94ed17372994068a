using EDiffI.Attention;
using EDiffI.Conditioning;
using EDiffI.Denoising;
using EDiffI.Encoders;
using EDiffI.Experts;
using EDiffI.Host.Runtime;
using EDiffI.Networks;
using EDiffI.Sampling;
using TorchSharp;
using static TorchSharp.torch;

namespace EDiffI.Host.Pipeline;

/// <summary>
/// Text to image: encoders → conditioning, U-Net (or an ensemble of expert U-Nets behind the σ router)
/// → preconditioned denoiser → guidance wrapper → sampler over the Karras schedule. Holds the model on one device.
/// </summary>
public sealed class TextToImagePipeline : IDisposable
{
    private readonly ITextEncoder? _t5;
    private readonly ITextEncoder? _clip;
    private readonly IImageEncoder? _image;
    private readonly List<INetwork> _networks;
    private readonly List<GraphedNetwork> _graphed;

    /// <summary>The model's manifest.</summary>
    public ModelManifest Manifest { get; }
    /// <summary>The network F_θ (the first expert of an ensemble; all experts share its shape).</summary>
    public INetwork Network => _networks[0];
    /// <summary>Every network: one, or the experts in the router's order.</summary>
    public IReadOnlyList<INetwork> Networks => _networks;
    /// <summary>D(x; σ): the preconditioned network, or the ensemble that routes each σ to its expert.</summary>
    public IDenoiser Denoiser { get; }
    /// <summary>The device the model runs on.</summary>
    public Device Device { get; }
    /// <summary>The CLIP image encoder (style reference), or null when the model has none.</summary>
    public IImageEncoder? ImageEncoder => _image;
    /// <summary>How the experts are placed (null for a single network).</summary>
    public IExpertPlacement? Placement { get; }

    /// <summary>Wraps a loaded network and its encoders; the pipeline owns and disposes them.</summary>
    public TextToImagePipeline(ModelManifest manifest, INetwork network, ITextEncoder? t5, ITextEncoder? clip, Device device, ScalarType computeType)
        : this(manifest, [network], null, null, t5, clip, null, device, computeType)
    {
    }

    /// <summary>
    /// Wraps loaded networks (one, or the experts of an ensemble with their <paramref name="router"/>) and
    /// encoders; the pipeline owns and disposes them. A low-memory <paramref name="placement"/> keeps
    /// inactive experts in host memory.
    /// </summary>
    public TextToImagePipeline(ModelManifest manifest, IReadOnlyList<INetwork> networks, IExpertRouter? router,
        Func<IReadOnlyList<nn.Module>, IExpertPlacement>? placement, ITextEncoder? t5, ITextEncoder? clip, IImageEncoder? image,
        Device device, ScalarType computeType)
    {
        if (networks.Count == 0) throw new ArgumentException("at least one network is needed", nameof(networks));
        if (networks.Count > 1 && router is null) throw new ArgumentException("an ensemble needs a router", nameof(router));
        Manifest = manifest;
        Device = device;
        _networks = networks.ToList();
        foreach (var network in _networks)
        {
            network.Module.eval();
            if (computeType != ScalarType.Float32) network.Module.to(computeType);
            network.ComputeType = computeType;
        }
        // Weights that stay on the device can be replayed from CUDA graphs; a placement that moves experts cannot.
        _graphed = placement is null ? _networks.Select(CudaGraphs.Wrap).ToList() : [];
        IEnumerable<IEdmNetwork> runners = placement is null ? _graphed : _networks;
        var denoisers = runners.Select(n => (IDenoiser)new PreconditionedDenoiser(n)).ToList();
        if (router is null)
        {
            _networks[0].Module.to(device);
            Denoiser = denoisers[0];
        }
        else
        {
            var modules = _networks.Select(n => n.Module).ToList();
            Placement = placement?.Invoke(modules);
            if (placement is null) foreach (var m in modules) m.to(device);
            Denoiser = new ExpertEnsembleDenoiser(denoisers, router, Placement);
        }
        _t5 = t5;
        _clip = clip;
        _image = image;
        _t5?.MoveTo(device);
        _clip?.MoveTo(device);
        _image?.MoveTo(device);
    }

    /// <summary>
    /// Loads a model folder through <see cref="ModelLoader"/>: the manifest, then the network (or every expert of the
    /// ensemble) and the encoders through the plugins that provide them. <paramref name="placement"/> is "resident"
    /// (every expert on the device) or "low-memory".
    /// </summary>
    public static TextToImagePipeline Load(string folder, ModelCatalog catalog, Device device, ScalarType computeType,
        string placement = "resident") =>
        new ModelLoader(catalog).Load(folder, device, computeType, placement);

    /// <summary>
    /// Warnings about <paramref name="prompt"/>: one per text stream that truncates it, naming how many
    /// tokens were dropped.
    /// </summary>
    public IReadOnlyList<string> PromptWarnings(string prompt)
    {
        var warnings = new List<string>();
        foreach (var (name, encoder) in new[] { ("T5", _t5), ("CLIP", _clip) })
        {
            if (encoder is null) continue;
            int dropped = encoder.Tokenize(prompt).Dropped;
            if (dropped > 0)
                warnings.Add($"the prompt is longer than the {name} encoder's {encoder.MaxTokens} tokens; the last {dropped} token{(dropped == 1 ? "" : "s")} were dropped.");
        }
        return warnings;
    }

    /// <summary>The text encoder of a stream, or null when the model has none.</summary>
    public ITextEncoder? TextEncoder(TextStream stream) => stream == TextStream.T5 ? _t5 : _clip;

    /// <summary>Encodes prompts into the conditioning of every stream the model has.</summary>
    public ConditioningInputs Encode(IReadOnlyList<string> prompts) => new(
        T5Text: _t5?.Encode(prompts, Device),
        ClipText: _clip?.Encode(prompts, Device));

    /// <summary>
    /// Adds the style reference and plugin extras of <paramref name="extra"/> to encoded prompts; a single
    /// image embedding is repeated over the batch.
    /// </summary>
    private ConditioningInputs WithExtra(ConditioningInputs conditioning, ConditioningInputs? extra, int batch)
    {
        if (extra is null) return conditioning;
        if (extra.ClipImage is { } image)
            conditioning = conditioning with { ClipImage = (image.shape[0] == 1 ? image.expand(batch, -1) : image).to(Device) };
        if (extra.Extensions is { } extensions)
            conditioning = conditioning with { Extensions = extensions };
        if (extra.Streams is { } streams)
            conditioning = conditioning with { Streams = streams };
        return conditioning;
    }

    /// <summary>
    /// Swaps cross-attention processors into every network (each expert of an ensemble); null restores the
    /// default. Returns false when no network has cross-attention layers that accept processors.
    /// </summary>
    public bool SetCrossAttentionProcessor(Func<CrossAttentionLayer, ICrossAttentionProcessor?> select)
    {
        var hosts = _networks.OfType<ICrossAttentionHost>().Where(h => h.CrossAttentionLayers.Count > 0).ToList();
        foreach (var host in hosts) host.SetCrossAttentionProcessor(select);
        return hosts.Count > 0;
    }

    /// <summary>Every text encoder the model has, by stream.</summary>
    public IReadOnlyDictionary<TextStream, ITextEncoder> TextEncoders()
    {
        var map = new Dictionary<TextStream, ITextEncoder>();
        if (_t5 is not null) map[TextStream.T5] = _t5;
        if (_clip is not null) map[TextStream.Clip] = _clip;
        return map;
    }

    /// <summary>Unit Gaussian noise for seeds seed, seed+1, …: each image's noise depends only on its own seed.</summary>
    public Tensor Noise(long seed, int batch) => SeededNoise(seed, batch, Network.Channels, Network.Resolution).to(Device);

    /// <summary>
    /// Unit Gaussian noise [B, C, side, side] in float64 on the CPU, image i drawn from its own generator seeded
    /// seed + i, XOR <paramref name="salt"/> (0 for the base; a stage and a use have their own), so it never depends on the batch.
    /// </summary>
    public static Tensor SeededNoise(long seed, int batch, int channels, int side, ulong salt = 0)
    {
        var images = new Tensor[batch];
        for (int i = 0; i < batch; i++)
        {
            using var generator = new Generator(unchecked((ulong)(seed + i) ^ salt));
            images[i] = randn([1, channels, side, side], ScalarType.Float64, generator: generator);
        }
        var stacked = cat(images, 0);
        foreach (var t in images) t.Dispose();
        return stacked;
    }

    /// <summary>
    /// Draws one image per prompt (image i from seed <paramref name="seed"/> + i) in one batch, under
    /// classifier-free guidance of weight <paramref name="guidance"/>; <paramref name="extra"/> adds a style
    /// embedding (one row for the batch or one per image), conditioner streams and plugin extras. Returns
    /// [B, 3, H, W] in [−1, 1], float32, on the CPU. Requests go through <see cref="GenerationService"/>,
    /// which validates them and fills in the defaults.
    /// </summary>
    public Tensor Sample(IReadOnlyList<string> prompts, long seed, int steps, double guidance, ISampler sampler, ISigmaSchedule schedule,
        ConditioningInputs? extra = null, SamplerCallback? callback = null, CancellationToken cancellationToken = default) =>
        Sample(prompts, seed, steps, guidance, sampler, schedule, extra, callback, null, cancellationToken);

    /// <summary>
    /// As above, starting from or keeping part of an init image (<paramref name="edit"/>: SDEdit, inpainting) and with the
    /// starting noise of every image interpolated toward another seed's (<paramref name="variation"/>).
    /// </summary>
    internal Tensor Sample(IReadOnlyList<string> prompts, long seed, int steps, double guidance, ISampler sampler, ISigmaSchedule schedule,
        ConditioningInputs? extra, SamplerCallback? callback, BaseStart? start, CancellationToken cancellationToken = default)
    {
        if (prompts.Count == 0) throw new ArgumentException("at least one prompt is needed", nameof(prompts));
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var edit = start?.Edit;
        if (edit is not null && edit.ReturnsInit(schedule.Sigmas(steps))) return edit.Init!.to(ScalarType.Float32).cpu().MoveToOuterDisposeScope(); // before encoding
        var conditioning = WithExtra(Encode(prompts), extra, prompts.Count);
        IDenoiser denoiser = new ClassifierFreeGuidance(Denoiser, guidance);
        if (conditioning.Get<TilingMode>() is { Shift: true, Axes: not TileAxes.None } tilingMode)
            denoiser = new ShiftedTilingDenoiser(denoiser, new TileShifts(tilingMode.Axes, seed));
        var noise = Noise(seed, prompts.Count);
        if (start?.VariationSeed is { } other && start.VariationStrength > 0)
            noise = StageEdit.Slerp(noise, Noise(other, prompts.Count), start.VariationStrength);
        return StageEdit.SampleStage(edit, sampler, denoiser, noise, schedule.Sigmas(steps), conditioning, callback, seed, cancellationToken: cancellationToken)
            .MoveToOuterDisposeScope();
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var g in _graphed) g.Dispose();
        foreach (var n in _networks) n.Dispose();
        _t5?.Dispose();
        _clip?.Dispose();
        _image?.Dispose();
    }
}

/// <summary>How the base's sampling starts: an edit of an init image, and a variation seed whose noise is mixed in.</summary>
/// <param name="Edit">SDEdit or inpainting at the base's resolution; null for none.</param>
/// <param name="VariationSeed">Seed of the noise to interpolate toward; null for none.</param>
/// <param name="VariationStrength">0: the seed's own noise, 1: the variation seed's.</param>
internal sealed record BaseStart(StageEdit? Edit, long? VariationSeed, double VariationStrength);
