using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace EDiffI.Host.Imaging;

/// <summary>
/// Full-reference measures of an image against the truth, for the super-resolution measurements: PSNR, SSIM and a
/// sharpness ratio. Images are [N, 3, H, W] in [−1, 1]; each measure is the mean over the batch.
/// </summary>
public static class ImageQuality
{
    /// <summary>Peak signal-to-noise ratio in dB, with the peak-to-peak range 2 of [−1, 1].</summary>
    public static double Psnr(Tensor image, Tensor truth)
    {
        using var scope = NewDisposeScope();
        var mse = (image.to(ScalarType.Float64) - truth.to(ScalarType.Float64)).pow(2).mean([1, 2, 3]);
        return (10 * (4 / mse.clamp_min(1e-12)).log10()).mean().item<double>();
    }

    /// <summary>
    /// Structural similarity (Wang et al. 2004): 11×11 Gaussian window of σ 1.5, K1 0.01, K2 0.03, on each channel of the
    /// images mapped to [0, 1], averaged over pixels (valid windows only), channels and images.
    /// </summary>
    public static double Ssim(Tensor image, Tensor truth)
    {
        using var scope = NewDisposeScope();
        var x = ((image.to(ScalarType.Float64) + 1) / 2).clamp(0, 1);
        var y = ((truth.to(ScalarType.Float64) + 1) / 2).clamp(0, 1);
        long channels = x.shape[1];
        var g = exp(-(arange(-5, 6, dtype: ScalarType.Float64) / 1.5).pow(2) / 2);
        g /= g.sum();
        var window = outer(g, g).expand(channels, 1, 11, 11).contiguous().to(x.device);
        Tensor Blur(Tensor t) => F.conv2d(t, window, groups: channels);
        const double c1 = 0.01 * 0.01, c2 = 0.03 * 0.03;
        var muX = Blur(x);
        var muY = Blur(y);
        var varX = Blur(x * x) - muX * muX;
        var varY = Blur(y * y) - muY * muY;
        var cov = Blur(x * y) - muX * muY;
        var map = (2 * muX * muY + c1) * (2 * cov + c2) / ((muX * muX + muY * muY + c1) * (varX + varY + c2));
        return map.mean().item<double>();
    }

    /// <summary>Energy of the image minus its 3×3 box blur (its finest detail), over the same energy of the truth: 1 is as
    /// sharp as the truth, below 1 blurrier, above 1 noisier or over-sharpened.</summary>
    public static double Sharpness(Tensor image, Tensor truth)
    {
        using var scope = NewDisposeScope();
        return Detail(image) / Detail(truth);
    }

    /// <summary>The mean squared difference of <paramref name="x"/> from its 3×3 local mean: its finest detail (<see cref="Sharpness"/> is the ratio of two).</summary>
    public static double Detail(Tensor x)
    {
        using var scope = NewDisposeScope();
        var t = x.to(ScalarType.Float64);
        return (t - F.avg_pool2d(F.pad(t, [1, 1, 1, 1], TorchSharp.PaddingModes.Replicate), 3, 1)).pow(2).mean().item<double>();
    }
}
