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

    /// <summary>Wraps <paramref name="network"/> (owned by the stage) as the stage <paramref name="name"/>, learning <paramref name="target"/>.</summary>
    public SuperResolutionStage(string name, INetwork network, int inputResolution, StageTarget? target = null)
    {
        target ??= StageTarget.Image;
        if (target.Problem() is { } problem) throw new ArgumentException($"stage '{name}': {problem}");
        if (inputResolution <= 0 || network.Resolution % inputResolution != 0 || network.Resolution / inputResolution < 2)
            throw new ArgumentException($"a stage to {network.Resolution} pixels cannot take {inputResolution}-pixel images (the factor must be a whole number of at least 2)");
        if (network.Conditioning.Streams is not { } slots || !slots.TryGetValue(StreamName, out var slot) || slot != Slot)
            throw new ArgumentException($"the network of stage '{name}' has no '{StreamName}' slot of {Slot}");
        Name = name;
        Network = network;
        InputResolution = inputResolution;
        Target = target;
        _runner = CudaGraphs.Wrap(network);
    }

    // The network as sampling runs it: replayed from CUDA graphs where it can be (its weights stay where they are).
    private readonly GraphedNetwork _runner;

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
    public StageTarget Target { get; }

    /// <inheritdoc />
    public ConditioningStream LowResolutionStream(Tensor lowResolution, Tensor sigmaAug, Tensor noise, TileAxes tiling = TileAxes.None)
    {
        using var scope = NewDisposeScope();
        if (lowResolution.dim() != 4 || lowResolution.shape[1] != 3)
            throw new ArgumentException($"the low-resolution image must be [B, 3, h, w], got [{string.Join(", ", lowResolution.shape)}]");
        if (noise.dim() != 4 || noise.shape[0] != lowResolution.shape[0] || noise.shape[1] != 3)
            throw new ArgumentException($"the augmentation noise must be [{lowResolution.shape[0]}, 3, H, W], got [{string.Join(", ", noise.shape)}]");
        var low = lowResolution.to(ScalarType.Float32);
        var up = Tiling.Bicubic(low, noise.shape[2], noise.shape[3], tiling);
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
    public IDenoiser ConditionOn(Tensor lowResolution, double sigmaAug, Tensor noise, StageLayout? layout = null)
    {
        layout ??= StageLayout.Whole;
        if (!(sigmaAug >= 0)) throw new ArgumentException($"σ_aug must be at least 0 (got {sigmaAug})");
        if (layout.Tiling != TileAxes.None && !Network.CanTile) throw new ArgumentException($"the network of stage '{Name}' cannot wrap around (no circular padding)");
        using var sigma = full(lowResolution.shape[0], sigmaAug, dtype: ScalarType.Float32);
        var stream = LowResolutionStream(lowResolution, sigma, noise, layout.Tiling);
        IDenoiser denoiser = new LowResolutionDenoiser(new PreconditionedDenoiser(_runner, Target.SigmaData), stream, layout);
        if (!Target.Residual) return denoiser;
        // The windows and the rolls are linear blends of the detail, so adding the upsampling once, outside them, is exact.
        using var low = lowResolution.to(ScalarType.Float32);
        return new ResidualDenoiser(denoiser, Tiling.Bicubic(low, noise.shape[2], noise.shape[3], layout.Tiling));
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _runner.Dispose();
        Network.Dispose();
    }
}

/// <summary>
/// A residual stage's denoiser: D(x; σ) = up + D_r(x − up; σ), where <paramref name="upsampled"/> is the bicubic upsampling
/// of the clean low-resolution input (its lifetime the caller's dispose scope, as the stream's) and D_r = <paramref name="inner"/> denoises the detail.
/// </summary>
internal sealed class ResidualDenoiser(IDenoiser inner, Tensor upsampled) : IDenoiser
{
    public Tensor Denoise(Tensor x, Tensor sigma, ConditioningInputs conditioning) => Around(x, detail => inner.Denoise(detail, sigma, conditioning));

    public Tensor Denoise(Tensor x, double sigma, ConditioningInputs conditioning) => Around(x, detail => inner.Denoise(detail, sigma, conditioning));

    private Tensor Around(Tensor x, Func<Tensor, Tensor> denoise)
    {
        using var scope = NewDisposeScope();
        if (x.shape[2] != upsampled.shape[2] || x.shape[3] != upsampled.shape[3])
            throw new ArgumentException($"the image is {x.shape[3]}×{x.shape[2]}, its upsampled input {upsampled.shape[3]}×{upsampled.shape[2]}");
        long times = x.shape[0] / upsampled.shape[0];
        if (times < 1 || x.shape[0] % upsampled.shape[0] != 0)
            throw new ArgumentException($"a batch of {x.shape[0]} cannot take {upsampled.shape[0]} upsampled inputs");
        // A guided batch holds the conditional and unconditional halves of the same images.
        var up = (times == 1 ? upsampled : upsampled.repeat(times, 1, 1, 1)).to(x.dtype, x.device);
        return (up + denoise(x - up)).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// Adds the low-resolution stream to every evaluation of <paramref name="inner"/>: the same image for both halves of a
/// guided batch (guidance drops the text, never the image being upsampled). With a window smaller than the image, the
/// network runs window by window on the matching crops of x and of the stream, and the denoised windows are blended with
/// weights that ramp down across the overlap (MultiDiffusion's averaging of overlapping denoised crops, Bar-Tal et al.
/// 2023); along a wrapping axis the windows continue across the edge, so the result stays periodic.
/// </summary>
internal sealed class LowResolutionDenoiser(IDenoiser inner, ConditioningStream stream, StageLayout layout) : IDenoiser
{
    public Tensor Denoise(Tensor x, Tensor sigma, ConditioningInputs conditioning) =>
        Windowed(x, conditioning, (xw, c) => inner.Denoise(xw, sigma, c));

    public Tensor Denoise(Tensor x, double sigma, ConditioningInputs conditioning) =>
        Windowed(x, conditioning, (xw, c) => inner.Denoise(xw, sigma, c));

    private Tensor Windowed(Tensor x, ConditioningInputs conditioning, Func<Tensor, ConditioningInputs, Tensor> denoise)
    {
        var s = Repeated(x);
        if (layout.Shifts is not { } shifts || layout.Tiling == TileAxes.None) return Windowed(x, s, conditioning, denoise);
        return shifts.Around(x, s.Spatial, (rolled, spatial) => Windowed(rolled, s with { Spatial = spatial }, conditioning, denoise));
    }

    private Tensor Windowed(Tensor x, ConditioningStream s, ConditioningInputs conditioning, Func<Tensor, ConditioningInputs, Tensor> denoise)
    {
        long height = x.shape[2], width = x.shape[3];
        int window = layout.Window;
        if (window <= 0 || (window >= height && window >= width))
        {
            var c = conditioning.WithStream(SuperResolutionStage.StreamName, s);
            if (layout.Tiling != TileAxes.None) c = c.With(new TilingMode(layout.Tiling));
            return denoise(x, c);
        }
        using var scope = NewDisposeScope();
        // Inside a window the network pads with zeros: the wrap is the windows', which read across the edge.
        var rows = Starts(height, window, layout.Overlap, layout.Tiling.HasFlag(TileAxes.Y));
        var cols = Starts(width, window, layout.Overlap, layout.Tiling.HasFlag(TileAxes.X));
        long wy = Math.Min(window, height), wx = Math.Min(window, width);
        long batch = x.shape[0], channels = x.shape[1];
        var flatX = x.reshape(batch, channels, height * width);
        var flatS = s.Spatial!.reshape(s.Spatial.shape[0], s.Spatial.shape[1], height * width);
        Tensor? sum = null;
        var weightSum = zeros(height * width, dtype: ScalarType.Float64, device: x.device);
        var ramp = Ramp(wy, layout.Overlap, x.device).unsqueeze(1) * Ramp(wx, layout.Overlap, x.device).unsqueeze(0);
        foreach (long top in rows)
            foreach (long left in cols)
            {
                using var inner = NewDisposeScope();
                var r = (arange(top, top + wy, dtype: ScalarType.Int64, device: x.device) % height).unsqueeze(1);
                var q = (arange(left, left + wx, dtype: ScalarType.Int64, device: x.device) % width).unsqueeze(0);
                var index = (r * width + q).flatten();
                var xw = flatX.index_select(2, index).reshape(batch, channels, wy, wx);
                var sw = new ConditioningStream(Pooled: s.Pooled, Spatial: flatS.index_select(2, index).reshape(s.Spatial.shape[0], s.Spatial.shape[1], wy, wx));
                var d = denoise(xw, conditioning.WithStream(SuperResolutionStage.StreamName, sw));
                var weighted = (d.to(ScalarType.Float64) * ramp).reshape(batch, channels, wy * wx);
                sum ??= zeros(batch, channels, height * width, dtype: ScalarType.Float64, device: x.device).MoveToOuterDisposeScope();
                sum.index_add_(2, index, weighted, 1);
                weightSum.index_add_(0, index, ramp.flatten(), 1);
            }
        return (sum! / weightSum).reshape(batch, channels, height, width).to(x.dtype).MoveToOuterDisposeScope();
    }

    // Window origins along an axis of n pixels: every (window − overlap) pixels; a wrapping axis needs no window to end at
    // the far edge (the last one reads across it), a clamped axis ends with a window flush with the edge.
    private static List<long> Starts(long n, int window, int overlap, bool wraps)
    {
        if (window >= n) return [0];
        long stride = Math.Max(1, window - overlap);
        var starts = new List<long>();
        if (wraps)
        {
            for (long p = 0; p < n; p += stride) starts.Add(p);
            return starts;
        }
        for (long p = 0; p + window < n; p += stride) starts.Add(p);
        starts.Add(n - window);
        return starts;
    }

    // A window's blending weight along one axis: 1 inside, falling linearly to about 0 over the overlap at each side.
    private static Tensor Ramp(long n, int overlap, Device device)
    {
        var i = arange(n, dtype: ScalarType.Float64, device: device);
        if (overlap <= 0) return ones_like(i);
        var up = (i + 0.5) / overlap;
        var down = (n - i - 0.5) / overlap;
        return minimum(minimum(up, down), ones_like(i));
    }

    // The stream for a batch of x's size: repeated for the guided batch (conditional and unconditional halves).
    private ConditioningStream Repeated(Tensor x)
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
        return s;
    }
}
