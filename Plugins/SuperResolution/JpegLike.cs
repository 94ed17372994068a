using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace EDiffI.Plugins.SuperResolution;

/// <summary>
/// A JPEG-like quantisation (no entropy coding, no chroma subsampling): RGB to YCbCr (JFIF), 8×8 block DCT-II,
/// division by the JPEG Annex K luminance / chrominance tables scaled by the quality (the IJG scaling), rounding,
/// and the inverse. It makes the blocking and ringing a compressed texture shows.
/// </summary>
public static class JpegLike
{
    private static readonly float[] Luminance =
    [
        16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
        14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
        49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
    ];

    private static readonly float[] Chrominance = BuildChrominance();

    private static float[] BuildChrominance()
    {
        var table = Enumerable.Repeat(99f, 64).ToArray();
        float[][] top = [[17, 18, 24, 47], [18, 21, 26, 66], [24, 26, 56, 99], [47, 66, 99, 99]];
        for (int r = 0; r < 4; r++)
            for (int c = 0; c < 4; c++) table[r * 8 + c] = top[r][c];
        return table;
    }

    /// <summary>
    /// Quantises each image of <paramref name="images"/> ([B, 3, H, W] in [−1, 1]) at its own JPEG quality
    /// <paramref name="quality"/>[b] (1 … 100); sides that are not multiples of 8 are padded by reflection, then cropped back.
    /// </summary>
    public static Tensor Quantise(Tensor images, Tensor quality)
    {
        using var scope = NewDisposeScope();
        long b = images.shape[0], h = images.shape[2], w = images.shape[3];
        long ph = (8 - h % 8) % 8, pw = (8 - w % 8) % 8;
        var x = (images.to(ScalarType.Float32) + 1) * 127.5;
        if (ph > 0 || pw > 0) x = F.pad(x, [0, pw, 0, ph], PaddingModes.Replicate);
        var ycc = ToYCbCr(x) - 128;
        long hh = ycc.shape[2], ww = ycc.shape[3];
        // Blocks: [B, 3, H/8, 8, W/8, 8] → [B, 3, H/8, W/8, 8, 8].
        var blocks = ycc.view(b, 3, hh / 8, 8, ww / 8, 8).permute(0, 1, 2, 4, 3, 5);
        var d = DctMatrix(images.device);
        var coefficients = d.matmul(blocks).matmul(d.t());
        var q = Tables(quality, images.device);                               // [B, 3, 1, 1, 8, 8]
        var restored = d.t().matmul((coefficients / q).round() * q).matmul(d);
        var back = restored.permute(0, 1, 2, 4, 3, 5).reshape(b, 3, hh, ww) + 128;
        var rgb = ToRgb(back).narrow(2, 0, h).narrow(3, 0, w);
        return (rgb.clamp(0, 255) / 127.5 - 1).MoveToOuterDisposeScope();
    }

    // Orthonormal DCT-II matrix: D[k, n] = α_k cos(π (2n + 1) k / 16).
    private static Tensor DctMatrix(Device device)
    {
        var m = new float[64];
        for (int k = 0; k < 8; k++)
            for (int n = 0; n < 8; n++)
                m[k * 8 + n] = (float)((k == 0 ? Math.Sqrt(1.0 / 8) : Math.Sqrt(2.0 / 8)) * Math.Cos(Math.PI * (2 * n + 1) * k / 16));
        return tensor(m, [8, 8]).to(device);
    }

    // The IJG quality scaling of both tables: S = 5000/q below 50, 200 − 2q above; entries ⌊(T·S + 50)/100⌋, at least 1.
    private static Tensor Tables(Tensor quality, Device device)
    {
        var q = quality.to(ScalarType.Float32).clamp(1, 100).view(-1, 1, 1);
        var scale = where(q < 50, 5000 / q, 200 - 2 * q);
        var luma = tensor(Luminance, [1, 8, 8]);
        var chroma = tensor(Chrominance, [1, 8, 8]);
        var l = ((luma * scale + 50) / 100).floor().clamp_min(1);
        var c = ((chroma * scale + 50) / 100).floor().clamp_min(1);
        return stack([l, c, c], 1).view(-1, 3, 1, 1, 8, 8).to(device);
    }

    private static Tensor ToYCbCr(Tensor rgb)
    {
        var r = rgb.select(1, 0); var g = rgb.select(1, 1); var bl = rgb.select(1, 2);
        var y = 0.299 * r + 0.587 * g + 0.114 * bl;
        var cb = -0.168736 * r - 0.331264 * g + 0.5 * bl + 128;
        var cr = 0.5 * r - 0.418688 * g - 0.081312 * bl + 128;
        return stack([y, cb, cr], 1);
    }

    private static Tensor ToRgb(Tensor ycc)
    {
        var y = ycc.select(1, 0); var cb = ycc.select(1, 1) - 128; var cr = ycc.select(1, 2) - 128;
        return stack([y + 1.402 * cr, y - 0.344136 * cb - 0.714136 * cr, y + 1.772 * cb], 1);
    }
}
