using EDiffI.Host.Imaging;
using EDiffI.Host.Pipeline;
using EDiffI.Host.Runtime;
using EDiffI.Networks;
using EDiffI.Plugins.Height;
using EDiffI.Plugins.UNet;
using EDiffI.Plugins.World;
using EDiffI.Textures;
using Microsoft.Extensions.Configuration;
using static TorchSharp.torch;

namespace EDiffI.Tests;

/// <summary>The shipped height-from-albedo network (models/default/height) and how generate's PBR maps pick it.</summary>
public class HeightEstimatorTests
{
    private static string ModelFolder => Path.Combine(TinyModel.RepositoryRoot, "models", "default");

    private static IHeightEstimator Shipped()
    {
        var spec = ModelManifest.Load(ModelFolder).Height;
        Assert.NotNull(spec);
        return new ModelCatalog([], [], heightEstimators: [new HeightUNetFactory()]).LoadHeightEstimator(spec, ModelFolder, CPU);
    }

    // A world texture's RGBA8 albedo and ground-truth height.
    private static (byte[] Rgba, float[] Height) Draw(TextureSpec spec, int size)
    {
        var rgb = new byte[size * size * 3];
        var height = new float[size * size];
        TextureRenderer.Render(spec, size, new PixelWindow(0, 0, size, size), rgb, height);
        var rgba = new byte[size * size * 4];
        for (int p = 0; p < size * size; p++)
        {
            for (int c = 0; c < 3; c++) rgba[p * 4 + c] = rgb[p * 3 + c];
            rgba[p * 4 + 3] = 255;
        }
        return (rgba, height);
    }

    private static byte[] Shift(byte[] rgba, int size, int dx, int dy)
    {
        var shifted = new byte[rgba.Length];
        for (int y = 0; y < size; y++)
            for (int x = 0; x < size; x++)
                Array.Copy(rgba, (y * size + x) * 4, shifted, (((y + dy) % size) * size + (x + dx) % size) * 4, 4);
        return shifted;
    }

    [Fact]
    public void TheShippedNetworkLoadsAndFitsInFourMegabytes()
    {
        using var estimator = Shipped();
        Assert.Equal("height-unet", estimator.Kind);
        long bytes = Directory.GetFiles(Path.Combine(ModelFolder, "height")).Sum(f => new FileInfo(f).Length);
        Assert.True(bytes <= 4L * 1000 * 1000, $"{bytes} bytes");
        var (rgba, _) = Draw(new TextureSpec(TextureFamily.Bricks, 0, 9, TextureScale.Medium, TextureOrientation.Horizontal, false, false, 2), 64);
        var height = estimator.Estimate(rgba, 64, 64, TileAxes.Both);
        Assert.Equal(64 * 64, height.Length);
        Assert.Equal(0f, height.Min());
        Assert.Equal(1f, height.Max());
    }

    [Theory]
    [InlineData(128, 8, 24)]  // at the working size: shifts by whole cells of the three poolings
    [InlineData(256, 48, 16)] // above it: averaged to 128, estimated, resampled back with wrap-around
    public void ItsHeightOfAPeriodicAlbedoIsPeriodicUnderACircularShift(int size, int dx, int dy)
    {
        using var estimator = Shipped();
        var (rgba, _) = Draw(new TextureSpec(TextureFamily.Tiles, 4, 9, TextureScale.Small, TextureOrientation.Horizontal, false, true, 6), size);
        var height = estimator.Estimate(rgba, size, size, TileAxes.Both);
        var ofShifted = estimator.Estimate(Shift(rgba, size, dx, dy), size, size, TileAxes.Both);
        double worst = 0;
        for (int y = 0; y < size; y++)
            for (int x = 0; x < size; x++)
                worst = Math.Max(worst, Math.Abs(height[y * size + x] - ofShifted[((y + dy) % size) * size + (x + dx) % size]));
        Assert.True(worst < 1e-4, $"largest difference {worst}");
    }

    [Fact]
    public void OnHeldOutWorldTexturesItBeatsLuminanceOnRmse()
    {
        using var estimator = Shipped();
        var network = new List<double>();
        var luminance = new List<double>();
        foreach (var family in new[] { TextureFamily.Bricks, TextureFamily.Tiles, TextureFamily.Planks, TextureFamily.MetalPlates, TextureFamily.Cobblestones, TextureFamily.Hexagons })
        {
            // Backgrounds of held-out scenes whose (family, colour) pair the training stream never draws.
            int found = 0;
            for (long seed = 6_000_000; found < 3; seed++)
            {
                var spec = SceneSampler.Sample(seed, WorldSplit.HeldOut).Background;
                if (spec.Family != family || !HeldOut.Texture(spec.Family, spec.Color)) continue;
                found++;
                var (rgba, truth) = Draw(spec, 128);
                network.Add(HeightMaps.Rmse(estimator.Estimate(rgba, 128, 128, spec.Tileable ? TileAxes.Both : TileAxes.None), truth));
                luminance.Add(HeightMaps.Rmse(PbrMaps.LuminanceHeight(rgba, 128, 128), truth));
            }
        }
        Assert.True(network.Average() + 0.1 < luminance.Average(), $"height RMSE: network {network.Average():0.000}, luminance {luminance.Average():0.000}");
    }

    [Fact]
    public void SizesItCannotTakeAreRefusedWithAMessage()
    {
        using var estimator = Shipped();
        var e = Assert.Throws<ArgumentException>(() => estimator.Estimate(new byte[60 * 60 * 4], 60, 60, TileAxes.None));
        Assert.Contains("multiples of 8", e.Message);
        Assert.Throws<ArgumentException>(() => estimator.Estimate(new byte[10], 64, 64, TileAxes.None));
    }

    [Fact]
    public void TheRmseIsZeroForAnAffineCopyAndRootTwoForAnUncorrelatedMap()
    {
        var random = new Random(3);
        var truth = Enumerable.Range(0, 4096).Select(_ => (float)random.NextDouble()).ToArray();
        var other = Enumerable.Range(0, 4096).Select(_ => (float)random.NextDouble()).ToArray();
        Assert.Equal(0, HeightMaps.Rmse(truth.Select(h => 3 * h + 7).ToArray(), truth), 4);
        Assert.Equal(2, HeightMaps.Rmse(truth.Select(h => -h).ToArray(), truth), 4);
        Assert.Equal(Math.Sqrt(2), HeightMaps.Rmse(other, truth), 1);
    }

    [Fact]
    public void GeneratePbrMapsTakeTheModelsNetworkWhenItShipsOne()
    {
        using var folder = new TinyModel.TempFolder();
        TinyModel.Pipeline(folder.Path).Dispose();
        ModelLoader.CopyFolder(Path.Combine(ModelFolder, "height"), Path.Combine(folder.Path, "height"));
        (ModelManifest.Load(folder.Path) with { Height = new HeightEstimatorSpec() }).Save(folder.Path);
        var (rgba, _) = Draw(new TextureSpec(TextureFamily.Bricks, 0, 9, TextureScale.Medium, TextureOrientation.Horizontal, false, false, 2), 64);

        GenerationService Open(params IHeightEstimatorFactory[] heights) =>
            new GenerationServiceFactory(new ModelCatalog([new UNetFamily()], [new EDiffI.Plugins.TextHash.WordHashEncoderFactory()], heightEstimators: heights),
                [new EDiffI.Plugins.Sampling.HeunSampler()], [new EDiffI.Sampling.KarrasSchedule()], [], new ConfigurationBuilder().Build()).Open(folder.Path, CPU, ScalarType.Float32);

        using (var service = Open(new HeightUNetFactory()))
        {
            Assert.Equal("height-unet", service.HeightEstimatorKind);
            var (auto, note) = service.PbrMapsOf(rgba, 64, 64, TileAxes.Both, PbrHeight.Auto, NormalConvention.OpenGL);
            Assert.Null(note);
            Assert.Equal("height-unet (network)", auto.HeightSource);
            using var direct = Shipped();
            Assert.Equal(direct.Estimate(rgba, 64, 64, TileAxes.Both), auto.HeightMap);
            var (luminance, _) = service.PbrMapsOf(rgba, 64, 64, TileAxes.Both, PbrHeight.Luminance, NormalConvention.OpenGL);
            Assert.Equal(PbrMaps.LuminanceSource, luminance.HeightSource);
            Assert.Equal(PbrMaps.LuminanceHeight(rgba, 64, 64), luminance.HeightMap);
        }
        // No plugin provides the kind: the heuristic stands in with a note, and asking for the network is an error.
        using (var service = Open())
        {
            Assert.Null(service.HeightEstimatorKind);
            var (maps, note) = service.PbrMapsOf(rgba, 64, 64, TileAxes.Both, PbrHeight.Auto, NormalConvention.OpenGL);
            Assert.Equal(PbrMaps.LuminanceSource, maps.HeightSource);
            Assert.Contains("height-unet", note);
            var e = Assert.Throws<UserException>(() => service.PbrMapsOf(rgba, 64, 64, TileAxes.Both, PbrHeight.Network, NormalConvention.OpenGL));
            Assert.Contains("height-unet", e.Message);
        }
        Assert.Equal(PbrHeight.Network, PbrMaps.ParseHeight("net"));
        Assert.Equal(PbrHeight.Luminance, PbrMaps.ParseHeight("luminance"));
        Assert.Null(PbrMaps.ParseHeight("sobel"));
    }
}
