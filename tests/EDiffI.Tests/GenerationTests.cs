using EDiffI.Conditioning;
using EDiffI.Denoising;
using EDiffI.Diffusion;
using EDiffI.Host.Commands;
using EDiffI.Host.Imaging;
using EDiffI.Host.Pipeline;
using EDiffI.Host.Runtime;
using EDiffI.Plugins.Sampling;
using EDiffI.Plugins.UNet;
using EDiffI.Sampling;
using TorchSharp;
using static TorchSharp.torch;

namespace EDiffI.Tests;

public class GenerationTests
{
    [Fact]
    public void SameSeedIsBitIdenticalAndSeedsDiffer()
    {
        using var folder = new TinyModel.TempFolder();
        using var pipeline = TinyModel.Pipeline(folder.Path);
        var sampler = new HeunSampler();
        var schedule = new KarrasSchedule();
        using var a = pipeline.Generate(new GenerationRequest("red stripes", 5, 6, 2.0), sampler, schedule);
        using var b = pipeline.Generate(new GenerationRequest("red stripes", 5, 6, 2.0), sampler, schedule);
        using var c = pipeline.Generate(new GenerationRequest("red stripes", 6, 6, 2.0), sampler, schedule);
        Assert.True(a.equal(b).all().item<bool>());
        Assert.False(a.allclose(c, 1e-3, 1e-3));
        // Image i of a batch depends on its own seed only: batch [5, 6] holds the two single images, up
        // to float32 rounding (batched matrix products sum in another order), far below one 8-bit level (0.0078).
        using var batch = pipeline.Generate(new GenerationRequest("red stripes", 5, 6, 2.0, Batch: 2), sampler, schedule);
        double d0 = (batch[0] - a[0]).abs().max().item<float>(), d1 = (batch[1] - c[0]).abs().max().item<float>();
        Assert.True(d0 < 1e-3 && d1 < 1e-3, $"batched images differ from single ones by {d0:g3} and {d1:g3}");
        Assert.Equal(new long[] { 2, 3, 16, 16 }, batch.shape);
    }

    [Fact]
    public void TwoHundredStepsLeaveNoLiveTensors()
    {
        using var folder = new TinyModel.TempFolder();
        using var pipeline = TinyModel.Pipeline(folder.Path);
        var cond = pipeline.Encode(["a blue square"]);
        using var noise = pipeline.Noise(1, 1);
        var request = new SamplingRequest(noise, Edm.KarrasSigmas(200), cond);
        using var noGrad = no_grad();
        // Warm up once so lazily created tensors (caches, handles) are not counted.
        using (var warm = new EulerSampler().Sample(pipeline.Denoiser, request with { Sigmas = Edm.KarrasSigmas(2) })) { }
        var stats = DisposeScopeManager.Statistics;
        stats.Reset();
        long liveBefore = stats.ThreadTotalLiveCount;
        int steps = 0;
        using (var x = new EulerSampler().Sample(pipeline.Denoiser, request with { Callback = (in SamplerStep s) => steps++ })) { }
        Assert.Equal(200, steps);
        var after = DisposeScopeManager.Statistics;
        Assert.True(liveBefore == after.ThreadTotalLiveCount, $"live tensors {liveBefore} before, {after.ThreadTotalLiveCount} after: {after}");
    }

    [Fact]
    public void MissingModelIsRefusedWithAClearMessage()
    {
        using var folder = new TinyModel.TempFolder();
        var e = Assert.Throws<UserException>(() => TextToImagePipeline.Load(folder.Path, TinyModel.Catalog, CPU, ScalarType.Float32));
        Assert.Contains("is not a model folder", e.Message);
        Assert.Contains("train", e.Message);
    }

    [Fact]
    public void PngRoundTripsThroughSkia()
    {
        using var folder = new TinyModel.TempFolder();
        using var image = rand(3, 8, 8) * 2 - 1;
        string path = Path.Combine(folder.Path, "x.png");
        ImageFiles.SavePng(image, path);
        using var back = ImageFiles.LoadSquare(path, 8);
        using var expected = ((image + 1) * 127.5).round().clamp(0, 255).to(ScalarType.Byte);
        Assert.True(back.equal(expected).all().item<bool>());
    }

    [Fact]
    public void ImageFolderPairsImagesWithCaptions()
    {
        using var folder = new TinyModel.TempFolder();
        using var red = zeros(3, 20, 20); red[0] = ones(20, 20);
        ImageFiles.SavePng(red, Path.Combine(folder.Path, "a.png"));
        File.WriteAllText(Path.Combine(folder.Path, "a.txt"), "a red square\n");
        ImageFiles.SavePng(red, Path.Combine(folder.Path, "b.png")); // no caption: skipped
        using var data = new EDiffI.Host.Data.ImageFolderDataset(folder.Path, 16);
        Assert.Equal(1, data.Count);
        Assert.Equal(1, data.Skipped);
        using var g = new Generator(1);
        using var batch = data.NextBatch(2, g);
        Assert.Equal(["a red square", "a red square"], batch.Captions);
        Assert.Equal(new long[] { 2, 3, 16, 16 }, batch.Images.shape);
        Assert.Equal(1f, batch.Images[0, 0].mean().item<float>(), 2);
    }
}
