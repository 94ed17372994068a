using EDiffI.Conditioning;
using EDiffI.Denoising;
using EDiffI.Networks;
using EDiffI.SuperResolution;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace EDiffI.Plugins.SuperResolution;

/// <summary>
/// A super-resolution stage over a U-Net with one generic conditioning slot, <see cref="StreamName"/>: its spatial
/// map is the upsampled, noise-augmented low-resolution image (a convolution of it added to the first feature map is
/// exactly a concatenation with the noisy image before the input convolution), its pooled vector the embedding of
/// σ_aug, added to the time embedding.
/// </summary>
public sealed class SuperResolutionStage : ISuperResolutionStage
{
    /// <summary>The conditioning stream (and the network's slot) that carries the low-resolution image.</summary>
    public const string StreamName = "lowres";

    /// <summary>Width of the σ_aug embedding.</summary>
    public const int AugmentationWidth = 32;

    /// <summary>σ_aug at which the embedding's argument u = σ/(σ + s) is one half.</summary>
    public const double AugmentationScale = 0.25;

    /// <summary>Wraps <paramref name="network"/> (owned by the stage) as the stage <paramref name="name"/>.</summary>
    public SuperResolutionStage(string name, INetwork network, int inputResolution)
    {
        if (inputResolution <= 0 || network.Resolution % inputResolution != 0 || network.Resolution / inputResolution < 2)
            throw new ArgumentException($"a stage to {network.Resolution} pixels cannot take {inputResolution}-pixel images (the factor must be a whole number of at least 2)");
        if (network.Conditioning.Streams is not { } slots || !slots.TryGetValue(StreamName, out var slot) || slot != Slot)
            throw new ArgumentException($"the network of stage '{name}' has no '{StreamName}' slot of {Slot}");
        Name = name;
        Network = network;
        InputResolution = inputResolution;
    }

    /// <summary>The slot the network needs: σ_aug's embedding as the pooled vector, the RGB image as the spatial map.</summary>
    public static ConditionerSlot Slot { get; } = new(PooledWidth: AugmentationWidth, SpatialChannels: 3);

    /// <inheritdoc />
    public string Name { get; }
    /// <inheritdoc />
    string ISuperResolutionStage.StreamName => StreamName;
    /// <inheritdoc />
    public int InputResolution { get; }
    /// <inheritdoc />
    public int OutputResolution => Network.Resolution;
    /// <inheritdoc />
    public INetwork Network { get; }

    /// <inheritdoc />
    public ConditioningStream LowResolutionStream(Tensor lowResolution, Tensor sigmaAug, Tensor noise)
    {
        using var scope = NewDisposeScope();
        if (lowResolution.dim() != 4 || lowResolution.shape[1] != 3)
            throw new ArgumentException($"the low-resolution image must be [B, 3, h, w], got [{string.Join(", ", lowResolution.shape)}]");
        if (noise.dim() != 4 || noise.shape[0] != lowResolution.shape[0] || noise.shape[1] != 3)
            throw new ArgumentException($"the augmentation noise must be [{lowResolution.shape[0]}, 3, H, W], got [{string.Join(", ", noise.shape)}]");
        var low = lowResolution.to(ScalarType.Float32);
        var up = F.interpolate(low, [noise.shape[2], noise.shape[3]], mode: InterpolationMode.Bicubic, align_corners: false);
        var sigma = sigmaAug.to(ScalarType.Float32, up.device).view(-1, 1, 1, 1);
        var spatial = up + sigma * noise.to(ScalarType.Float32, up.device);
        var pooled = AugmentationEmbedding(sigmaAug).to(up.device);
        return new ConditioningStream(Pooled: pooled.MoveToOuterDisposeScope(), Spatial: spatial.MoveToOuterDisposeScope());
    }

    /// <inheritdoc />
    /// <remarks>pooled_k = cos(π k u), u = σ_aug / (σ_aug + <see cref="AugmentationScale"/>), k = 0 … 31: a smooth basis on u ∈ [0, 1).</remarks>
    public Tensor AugmentationEmbedding(Tensor sigmaAug)
    {
        using var scope = NewDisposeScope();
        var s = sigmaAug.to(ScalarType.Float32).flatten().clamp_min(0);
        var u = s / (s + AugmentationScale);
        var k = arange(AugmentationWidth, dtype: ScalarType.Float32, device: s.device);
        return cos(u.unsqueeze(1) * k.unsqueeze(0) * Math.PI).MoveToOuterDisposeScope();
    }

    /// <inheritdoc />
    public IDenoiser ConditionOn(Tensor lowResolution, double sigmaAug, Tensor noise)
    {
        if (!(sigmaAug >= 0)) throw new ArgumentException($"σ_aug must be at least 0 (got {sigmaAug})");
        using var sigma = full(lowResolution.shape[0], sigmaAug, dtype: ScalarType.Float32);
        var stream = LowResolutionStream(lowResolution, sigma, noise);
        return new LowResolutionDenoiser(new PreconditionedDenoiser(Network), stream);
    }

    /// <inheritdoc />
    public void Dispose() => Network.Dispose();
}

/// <summary>
/// Adds the low-resolution stream to every evaluation of <paramref name="inner"/>: the same image for both halves of a
/// guided batch (guidance drops the text, never the image being upsampled).
/// </summary>
internal sealed class LowResolutionDenoiser(IDenoiser inner, ConditioningStream stream) : IDenoiser
{
    public Tensor Denoise(Tensor x, Tensor sigma, ConditioningInputs conditioning) => inner.Denoise(x, sigma, With(conditioning, x));

    public Tensor Denoise(Tensor x, double sigma, ConditioningInputs conditioning) => inner.Denoise(x, sigma, With(conditioning, x));

    private ConditioningInputs With(ConditioningInputs conditioning, Tensor x)
    {
        long batch = x.shape[0], rows = stream.BatchSize;
        if (batch % rows != 0) throw new ArgumentException($"a batch of {batch} cannot take a low-resolution stream of {rows} images");
        var s = stream;
        if (batch != rows)
        {
            long times = batch / rows;
            s = new ConditioningStream(Pooled: stream.Pooled!.repeat(times, 1), Spatial: stream.Spatial!.repeat(times, 1, 1, 1));
        }
        if (s.Spatial!.shape[2] != x.shape[2] || s.Spatial.shape[3] != x.shape[3])
            throw new ArgumentException($"the low-resolution stream is {s.Spatial.shape[3]}×{s.Spatial.shape[2]}, the image {x.shape[3]}×{x.shape[2]}");
        return conditioning.WithStream(SuperResolutionStage.StreamName, s);
    }
}
