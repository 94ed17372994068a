using EDiffI.IO;
using EDiffI.Networks;
using EDiffI.Textures;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace EDiffI.Plugins.Height;

/// <summary>Loads "height-unet" estimators: <c>height.json</c> and <c>height.safetensors</c> in one folder.</summary>
public sealed class HeightUNetFactory : IHeightEstimatorFactory
{
    /// <summary>The kind name in <c>model.json</c>.</summary>
    public const string KindName = "height-unet";

    /// <inheritdoc />
    public string Kind => KindName;

    /// <inheritdoc />
    public IHeightEstimator Load(string folder, Device device)
    {
        var config = HeightUNetConfig.Load(folder);
        var network = new HeightUNet(config);
        try
        {
            SafeTensorsWeights.Load(network, Path.Combine(folder, HeightUNetConfig.WeightsFileName));
            network.to(device);
            network.eval();
            return new HeightUNetEstimator(network, device);
        }
        catch
        {
            network.Dispose();
            throw;
        }
    }
}

/// <summary>A trained <see cref="HeightUNet"/> as a <see cref="IHeightEstimator"/>.</summary>
/// <param name="network">The network (owned).</param>
/// <param name="device">Where it runs.</param>
public sealed class HeightUNetEstimator(HeightUNet network, Device device) : IHeightEstimator
{
    /// <inheritdoc />
    public string Kind => HeightUNetFactory.KindName;

    /// <summary>The network.</summary>
    public HeightUNet Network => network;

    /// <inheritdoc />
    public float[] Estimate(byte[] albedo, int width, int height, TileAxes tiling)
    {
        ArgumentNullException.ThrowIfNull(albedo);
        if (width <= 0 || height <= 0 || albedo.Length != (long)width * height * 4)
            throw new ArgumentException($"an albedo of {width}×{height} needs {(long)width * height * 4} RGBA8 bytes, not {albedo.Length}");
        int multiple = network.Config.Multiple;
        if (width % multiple != 0 || height % multiple != 0)
            throw new ArgumentException($"the height network takes sides that are multiples of {multiple} (got {width}×{height}); " +
                                        "use the luminance heuristic for this image");
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var rgb = tensor(albedo, [1, height, width, 4])[.., .., .., TensorIndex.Slice(0, 3)].permute(0, 3, 1, 2)
            .to(ScalarType.Float32).to(device) / 127.5 - 1;
        var heights = Run(rgb, tiling);
        return HeightMaps.Stretch(heights.cpu().contiguous().data<float>().ToArray());
    }

    /// <summary>
    /// Heights [B, 1, H, W] of albedos [B, 3, H, W] in [−1, 1] at their own size: a side that is a whole multiple k ≥ 2 of the
    /// working size is averaged over k×k blocks first and the height resampled back up (bicubic, wrapping along
    /// <paramref name="tiling"/>), so elements keep the size in pixels the network was trained at.
    /// </summary>
    public Tensor Run(Tensor albedo, TileAxes tiling)
    {
        using var scope = NewDisposeScope();
        long h = albedo.shape[2], w = albedo.shape[3];
        int working = network.Config.WorkingSize;
        long k = Math.Min(h, w) / working;
        bool reduce = k >= 2 && h % (working * k) == 0 && w % (working * k) == 0;
        var input = reduce ? F.avg_pool2d(albedo, k) : albedo;
        var estimate = network.Heights(input, tiling);
        if (reduce) estimate = Tiling.Bicubic(estimate, h, w, tiling);
        return estimate.MoveToOuterDisposeScope();
    }

    /// <inheritdoc />
    public void Dispose() => network.Dispose();
}
