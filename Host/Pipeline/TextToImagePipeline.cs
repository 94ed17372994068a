using EDiffI.Conditioning;
using EDiffI.Denoising;
using EDiffI.Encoders;
using EDiffI.Host.Runtime;
using EDiffI.Networks;
using EDiffI.Sampling;
using TorchSharp;
using static TorchSharp.torch;

namespace EDiffI.Host.Pipeline;

/// <summary>What to draw.</summary>
/// <param name="Prompt">The text prompt.</param>
/// <param name="Seed">Seed of the first image; image i of the batch uses Seed + i.</param>
/// <param name="Steps">Sampler steps.</param>
/// <param name="Guidance">Classifier-free guidance weight (1 = conditional model only).</param>
/// <param name="Batch">Number of variations.</param>
public sealed record GenerationRequest(string Prompt, long Seed, int Steps, double Guidance, int Batch = 1)
{
    /// <summary>Checks the request; throws a <see cref="UserException"/> naming the first bad setting.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(Prompt)) throw new UserException("The prompt is empty (--prompt \"...\").");
        if (Steps < 1 || Steps > 1000) throw new UserException($"--steps must be between 1 and 1000 (got {Steps}).");
        if (Batch < 1 || Batch > 256) throw new UserException($"--batch must be between 1 and 256 (got {Batch}).");
        if (!(Guidance >= 0)) throw new UserException($"--guidance must be 0 or more (got {Guidance}).");
    }
}

/// <summary>
/// Text to image: encoders → conditioning, U-Net → preconditioned denoiser → guidance wrapper →
/// sampler over the Karras schedule. Holds the model on one device.
/// </summary>
public sealed class TextToImagePipeline : IDisposable
{
    private readonly ITextEncoder? _t5;
    private readonly ITextEncoder? _clip;

    /// <summary>The model's manifest.</summary>
    public ModelManifest Manifest { get; }
    /// <summary>The network F_θ.</summary>
    public INetwork Network { get; }
    /// <summary>D(x; σ) around <see cref="Network"/>.</summary>
    public IDenoiser Denoiser { get; }
    /// <summary>The device the model runs on.</summary>
    public Device Device { get; }

    /// <summary>Wraps a loaded network and its encoders; the pipeline owns and disposes them.</summary>
    public TextToImagePipeline(ModelManifest manifest, INetwork network, ITextEncoder? t5, ITextEncoder? clip, Device device, ScalarType computeType)
    {
        Manifest = manifest;
        Device = device;
        Network = network;
        network.Module.eval();
        network.Module.to(device);
        if (computeType != ScalarType.Float32) network.Module.to(computeType);
        network.ComputeType = computeType;
        Denoiser = new PreconditionedDenoiser(network);
        _t5 = t5;
        _clip = clip;
    }

    /// <summary>Loads a model folder: the manifest, then the network and encoders through the plugins that provide them.</summary>
    public static TextToImagePipeline Load(string folder, ModelCatalog catalog, Device device, ScalarType computeType)
    {
        var manifest = ModelManifest.Load(folder);
        var family = catalog.Family(manifest.Network);
        INetwork network;
        try
        {
            network = family.Load(folder);
        }
        catch (Exception e) when (e is FileNotFoundException or InvalidDataException)
        {
            throw new UserException(e.Message, e);
        }
        var t5 = manifest.T5 is null ? null : catalog.CreateEncoder(manifest.T5, folder);
        var clip = manifest.ClipText is null ? null : catalog.CreateEncoder(manifest.ClipText, folder);
        return new TextToImagePipeline(manifest, network, t5, clip, device, computeType);
    }

    /// <summary>Encodes prompts into the conditioning of every stream the model has.</summary>
    public ConditioningInputs Encode(IReadOnlyList<string> prompts) => new(
        T5Text: _t5?.Encode(prompts, Device),
        ClipText: _clip?.Encode(prompts, Device));

    /// <summary>Unit Gaussian noise for seeds seed, seed+1, …: each image's noise depends only on its own seed.</summary>
    public Tensor Noise(long seed, int batch)
    {
        var images = new Tensor[batch];
        for (int i = 0; i < batch; i++)
        {
            using var generator = new Generator((ulong)(seed + i));
            images[i] = randn([1, Network.Channels, Network.Resolution, Network.Resolution], ScalarType.Float64, generator: generator);
        }
        using var stacked = cat(images, 0);
        foreach (var t in images) t.Dispose();
        return stacked.to(Device);
    }

    /// <summary>Draws the images of a request: [B, 3, H, W] in [−1, 1], float32, on the CPU.</summary>
    public Tensor Generate(GenerationRequest request, ISampler sampler, ISigmaSchedule schedule,
        SamplerCallback? callback = null, CancellationToken cancellationToken = default)
    {
        request.Validate();
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var prompts = Enumerable.Repeat(request.Prompt, request.Batch).ToList();
        var conditioning = Encode(prompts);
        var denoiser = new ClassifierFreeGuidance(Denoiser, request.Guidance);
        var noise = Noise(request.Seed, request.Batch);
        var samples = sampler.Sample(denoiser, new SamplingRequest(noise, schedule.Sigmas(request.Steps), conditioning,
            Callback: callback, CancellationToken: cancellationToken));
        return samples.clamp(-1, 1).to(ScalarType.Float32).cpu().MoveToOuterDisposeScope();
    }

    /// <inheritdoc />
    public void Dispose()
    {
        Network.Dispose();
        _t5?.Dispose();
        _clip?.Dispose();
    }
}
