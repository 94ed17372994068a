using EDiffI.SuperResolution;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace EDiffI.Plugins.SuperResolution;

/// <summary>
/// The random degradation of a stage's low-resolution training input (eDiff-I's "random degradation"; the parts and
/// their ranges are in <see cref="DegradationOptions"/>): the source's own low-resolution render or a downsampling of
/// the high-resolution crop with a kernel drawn per image (point, box, bilinear or bicubic), then a Gaussian blur and a
/// JPEG-like quantisation, each with its probability. Every draw comes from the generator, in a fixed order.
/// </summary>
public static class Degradation
{
    /// <summary>The downsampling kernels drawn from, in order.</summary>
    public static IReadOnlyList<string> Kernels { get; } = ["point", "box", "bilinear", "bicubic"];

    /// <summary>Degrades <paramref name="high"/> ([B, 3, H, W]) into a [B, 3, H/f, W/f] image, with <paramref name="real"/> the source's own render when it has one.</summary>
    public static Tensor Apply(Tensor high, Tensor? real, int factor, Generator generator, DegradationOptions options)
    {
        using var scope = NewDisposeScope();
        var x = high.to(ScalarType.Float32);
        long b = x.shape[0], h = x.shape[2] / factor, w = x.shape[3] / factor;
        // Downsampling: one of four kernels per image, or the real render.
        var kernel = randint(0, Kernels.Count, [b], dtype: ScalarType.Int64, generator: generator);
        var variants = new[]
        {
            F.interpolate(x, [h, w], mode: InterpolationMode.Nearest),
            F.avg_pool2d(x, factor),
            F.interpolate(x, [h, w], mode: InterpolationMode.Bilinear, align_corners: false, antialias: true),
            F.interpolate(x, [h, w], mode: InterpolationMode.Bicubic, align_corners: false, antialias: true),
        };
        var low = zeros_like(variants[0]);
        for (int k = 0; k < variants.Length; k++) low = where(kernel.eq(k).to(x.device).view(-1, 1, 1, 1), variants[k], low);
        var useReal = rand(b, generator: generator) < options.RealRender;
        if (real is not null) low = where(useReal.to(x.device).view(-1, 1, 1, 1), real.to(ScalarType.Float32, x.device), low);

        // Gaussian blur of σ_b ~ U(min, max) low-resolution pixels with its probability (σ_b = 0: unchanged).
        var blurred = rand(b, generator: generator) < options.BlurProbability;
        var blurSigma = rand(b, generator: generator) * (options.BlurSigmaMax - options.BlurSigmaMin) + options.BlurSigmaMin;
        blurSigma = where(blurred, blurSigma, zeros_like(blurSigma));
        if (options.BlurProbability > 0) low = Blur(low, blurSigma);

        // JPEG-like quantisation with its probability, at a quality drawn per image.
        var quantised = rand(b, generator: generator) < options.QuantisationProbability;
        var quality = randint(options.QualityMin, options.QualityMax + 1, [b], dtype: ScalarType.Int64, generator: generator);
        if (options.QuantisationProbability > 0)
            low = where(quantised.to(x.device).view(-1, 1, 1, 1), JpegLike.Quantise(low, quality), low);
        return low.clamp(-1, 1).MoveToOuterDisposeScope();
    }

    /// <summary>Blurs each image by its own Gaussian of σ <paramref name="sigma"/>[b] pixels (0 leaves it as it is), reflecting at the borders.</summary>
    public static Tensor Blur(Tensor images, Tensor sigma)
    {
        using var scope = NewDisposeScope();
        const int radius = 3;
        long b = images.shape[0], c = images.shape[1];
        var offsets = arange(-radius, radius + 1, dtype: ScalarType.Float32);
        var s = sigma.to(ScalarType.Float32).view(-1, 1);
        // A σ of 0 is the unit impulse.
        var taps = exp(-(offsets.unsqueeze(0).pow(2)) / (2 * s.clamp_min(1e-3).pow(2)));
        taps = taps / taps.sum(1, keepdim: true);                                    // [B, 7]
        var kernel = (taps.unsqueeze(2) * taps.unsqueeze(1)).repeat_interleave(c, 0)  // [B·C, 7, 7]
            .unsqueeze(1).to(images.device);
        var padded = F.pad(images.reshape(1, b * c, images.shape[2], images.shape[3]), [radius, radius, radius, radius], PaddingModes.Reflect);
        var result = F.conv2d(padded, kernel, groups: b * c).reshape(images.shape);
        return result.MoveToOuterDisposeScope();
    }
}
