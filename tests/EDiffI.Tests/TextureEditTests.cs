using EDiffI.Conditioning;
using EDiffI.Host.Imaging;
using EDiffI.Host.Pipeline;
using EDiffI.Networks;
using EDiffI.Plugins.UNet;
using EDiffI.Plugins.World;
using EDiffI.SuperResolution;
using static TorchSharp.torch;

namespace EDiffI.Tests;

/// <summary>img2img, inpainting, make-tileable, variations and the PNG text chunks, through the generation service.</summary>
public class TextureEditTests
{
    // The tiny model (16²) with a 16 → 64 stage, as a service that owns neither.
    private sealed class TinyCascade : IDisposable
    {
        private readonly TinyModel.TempFolder _folder = new();
        private readonly TextToImagePipeline _pipeline;
        private readonly Cascade _cascade;

        public TinyCascade()
        {
            _pipeline = TinyModel.Pipeline(_folder.Path);
            using (var stage = TinyStage.Family.Create("sr64", "sr-tiny", 16, 64, new ConditioningWidths(32, 32, 32, 0)))
                TinyStage.Family.Save(stage, Path.Combine(_folder.Path, "sr64"));
            var manifest = ModelManifest.Load(_folder.Path) with
            {
                Cascade = [new CascadeStageSpec { Name = "sr64", Folder = "sr64", Resolution = 64, DefaultSteps = 3, SigmaMax = 4 }],
            };
            _cascade = Cascade.Load(manifest, _folder.Path, 16, [TinyStage.Family], CPU, ScalarType.Float32);
            Service = new GenerationService(_pipeline, [new EDiffI.Plugins.Sampling.HeunSampler()], [new EDiffI.Sampling.KarrasSchedule()],
                ownsPipeline: false, cascade: _cascade);
        }

        public GenerationService Service { get; }

        public void Dispose()
        {
            Service.Dispose();
            _cascade.Dispose();
            _pipeline.Dispose();
            _folder.Dispose();
        }
    }

    private static ConditionerImage Image(Tensor chw)
    {
        var rgba = ImageFiles.ToRgba8(chw, out int w, out int h);
        return new ConditionerImage(rgba, w, h);
    }

    private static ConditionerImage Render(int seed, int side) { using var t = SceneRenderer.ToImages([SceneRenderer.Render(seed, WorldSplit.HeldOut, side).Rgb]); using var one = t[0]; return Image(one); }

    private static Tensor Pixels(ConditionerImage image) => ImageFiles.FromRgba8(image.Rgba, image.Width, image.Height);

    [Theory]
    [InlineData(16)]
    [InlineData(64)]
    public void StrengthZeroReturnsTheInitAtTheStageOfItsSize(int side)
    {
        using var tiny = new TinyCascade();
        var init = Render(7, side);
        using var result = tiny.Service.Generate(new GenerationRequest("red bricks", 3, 4) { Width = side, Height = side, Init = init, Strength = 0 });
        using var expected = Pixels(init);
        using var got = result.Images[0];
        Assert.True((got - expected).abs().max().item<float>() < 1e-6);
        Assert.Equal($"img2img@{side}", result.Settings.Edit);
    }

    [Fact]
    public void StrengthMovesTheImageAwayFromTheInitMonotonically()
    {
        using var tiny = new TinyCascade();
        var init = Render(8, 16);
        using var expected = Pixels(init);
        var distances = new List<double>();
        foreach (double strength in new[] { 0.0, 0.3, 0.7, 1.0 })
        {
            using var result = tiny.Service.Generate(new GenerationRequest("red bricks", 3, 6) { Width = 16, Height = 16, Init = init, Strength = strength });
            using var got = result.Images[0];
            distances.Add((got - expected).abs().mean().item<float>());
        }
        Assert.Equal(0, distances[0], 6);
        Assert.True(distances[1] > 0 && distances[3] > distances[1], string.Join(", ", distances));
    }

    [Fact]
    public void InpaintingKeepsTheUnmaskedRegionExactlyInEveryStage()
    {
        using var tiny = new TinyCascade();
        var init = Render(9, 64);
        using var maskT = zeros(3, 64, 64);
        maskT[.., 16..48, 16..48] = tensor(1f);
        var mask = Image(maskT * 2 - 1); // white square in the middle
        using var result = tiny.Service.Generate(new GenerationRequest("blue water", 4, 4) { Width = 64, Height = 64, Init = init, Mask = mask });
        using var expected = Pixels(init);
        using var got = result.Images[0];
        var keep = ones(64, 64);
        keep[16..48, 16..48] = tensor(0f);
        double outside = ((got - expected).abs() * keep).max().item<float>();
        double inside = ((got - expected).abs() * (1 - keep)).mean().item<float>();
        Assert.True(outside < 1e-6, $"the kept region changed by up to {outside}");
        Assert.True(inside > 0.01, $"the masked region did not change ({inside})");
        Assert.Equal("inpaint", result.Settings.Edit);
    }

    [Fact]
    public void AMaskOfAnotherSizeOrWithoutAnInitIsRefusedClearly()
    {
        using var tiny = new TinyCascade();
        var init = Render(9, 64);
        var small = Render(9, 16);
        Assert.Contains("same size", tiny.Service.Check(new GenerationRequest("x") { Init = init, Mask = small })!.Message);
        Assert.Contains("needs the image", tiny.Service.Check(new GenerationRequest("x") { Mask = small })!.Message);
        Assert.Contains("between 0", tiny.Service.Check(new GenerationRequest("x") { Init = init, Strength = 1.5 })!.Message);
        Assert.Contains("variation seed", tiny.Service.Check(new GenerationRequest("x") { VariationStrength = 0.5 })!.Message);
    }

    [Fact]
    public void MakeTileableRepairsTheWrapSeamAndKeepsTheMiddle()
    {
        using var tiny = new TinyCascade();
        // A world texture whose seam was moved into view: rolled by a third of its side, then cut so its wrap edge jumps.
        using var rendered = SceneRenderer.ToImages([SceneRenderer.Render(11, WorldSplit.HeldOut, 96).Rgb]);
        using var crop = rendered[0][.., ..64, ..64].contiguous();
        var init = Image(crop);
        double before = Tiling.SeamRatio(crop, TileAxes.X);
        using var result = tiny.Service.Generate(new GenerationRequest("red bricks", 5, 4) { Width = 64, Height = 64, Init = init, MakeTileable = true });
        using var got = result.Images[0];
        double after = Tiling.SeamRatio(got, TileAxes.X);
        Assert.Equal(TileAxes.Both, result.Settings.Tiling);
        Assert.True((got[.., 8..56, 8..56] - crop[.., 8..56, 8..56]).abs().max().item<float>() < 1e-6, "the middle changed");
        Assert.True(after < before, $"seam ratio {before:0.00} before, {after:0.00} after");
    }

    // A denoiser of data that is all zeros (D = 0), which records σ and the spread of x at every call: along the ODE
    // x stays σ times unit noise, so std(x)/σ must be 1 at every call, jumps back included.
    private sealed class ZeroData : EDiffI.Denoising.IDenoiser
    {
        public List<(double Sigma, double Ratio)> Calls { get; } = [];
        public Tensor Denoise(Tensor x, Tensor sigma, ConditioningInputs conditioning) => Denoise(x, sigma[0].item<double>(), conditioning);
        public Tensor Denoise(Tensor x, double sigma, ConditioningInputs conditioning)
        {
            Calls.Add((sigma, x.std().item<double>() / sigma));
            return zeros_like(x);
        }
    }

    [Fact]
    public void RepaintJumpsNoiseBackToThePiecesFirstSigma()
    {
        var sigmas = new EDiffI.Sampling.KarrasSchedule().Sigmas(8, 10);
        using var init = zeros(1, 3, 64, 64);
        using var mask = ones(1, 1, 64, 64);
        var edit = new StageEdit(init, mask, 1) { Resample = 3, JumpLength = 2 };
        var data = new ZeroData();
        var steps = new List<(int Index, int Count)>();
        using var noise = randn([1, 3, 64, 64], dtype: ScalarType.Float64, generator: new Generator(3));
        var sampler = new EDiffI.Plugins.Sampling.EulerSampler();
        using var x = edit.Sample(sampler, data, new EDiffI.Sampling.SamplingRequest(noise, sigmas, new ConditioningInputs(),
            Callback: (in EDiffI.Sampling.SamplerStep s) => steps.Add((s.Index, s.Count))), seed: 1);
        // Euler: one call per step, each of the 4 pieces of 2 steps run 3 times.
        Assert.Equal(3 * 8, data.Calls.Count);
        Assert.All(data.Calls, c => Assert.InRange(c.Ratio, 0.97, 1.03));
        // The σ of the calls go back up after every run of a piece but the last of each: 4 pieces × 2 jumps.
        int ups = data.Calls.Zip(data.Calls.Skip(1)).Count(p => p.Second.Sigma > p.First.Sigma);
        Assert.Equal(4 * 2, ups);
        Assert.Equal(Enumerable.Range(0, 24).Select(i => (i, 24)), steps);
        Assert.True(x.abs().max().item<double>() < 1e-9, "D = 0 must end at 0");
        // Without a mask, or with one run, it is the sampler's own result exactly.
        using var plain = sampler.Sample(data, new EDiffI.Sampling.SamplingRequest(noise, sigmas, new ConditioningInputs()));
        using var once = (edit with { Resample = 1 }).Sample(sampler, new ZeroData(), new EDiffI.Sampling.SamplingRequest(noise, sigmas, new ConditioningInputs()), 1);
        Assert.Equal(0, (plain - once).abs().max().item<double>());
    }

    [Fact]
    public void InpaintingWithResamplingKeepsTheUnmaskedRegionAndReportsEveryStep()
    {
        using var tiny = new TinyCascade();
        var init = Render(9, 64);
        using var maskT = zeros(3, 64, 64);
        maskT[.., 16..48, 16..48] = tensor(1f);
        var mask = Image(maskT * 2 - 1);
        var request = new GenerationRequest("blue water", 4, 4) { Width = 64, Height = 64, Init = init, Mask = mask };
        var counts = new Dictionary<string, int>();
        using var once = tiny.Service.Generate(request);
        using var thrice = tiny.Service.Generate(request with { Resample = 3, JumpLength = 2 },
            (string stage, in EDiffI.Sampling.SamplerStep s) => counts[stage] = s.Count);
        using var expected = Pixels(init);
        var keep = ones(64, 64);
        keep[16..48, 16..48] = tensor(0f);
        using var got = thrice.Images[0];
        Assert.True(((got - expected).abs() * keep).max().item<float>() < 1e-6, "the kept region changed");
        Assert.True(((got - once.Images[0]).abs() * (1 - keep)).mean().item<float>() > 1e-3, "resampling changed nothing");
        Assert.Equal(3 * 4, counts[GenerationService.BaseStage]);
        Assert.Equal(3 * 3, counts["sr64"]);
        Assert.Equal((3, 2), thrice.Settings.Resampling);
        Assert.Contains("mask", tiny.Service.Check(new GenerationRequest("x") { Resample = 2 })!.Message);
        Assert.Contains("between 1", tiny.Service.Check(new GenerationRequest("x") { Init = init, Mask = mask, Resample = 0 })!.Message);
    }

    [Fact]
    public void VariationStrengthRunsFromTheSeedToTheVariationSeed()
    {
        using var tiny = new TinyCascade();
        GenerationResult Draw(long seed, long? other, double strength) =>
            tiny.Service.Generate(new GenerationRequest("red bricks", seed, 3) { Width = 16, Height = 16, VariationSeed = other, VariationStrength = strength });
        using var a = Draw(1, null, 0);
        using var b = Draw(2, null, 0);
        using var none = Draw(1, 2, 0);
        using var all = Draw(1, 2, 1);
        using var half = Draw(1, 2, 0.5);
        Assert.True((none.Images - a.Images).abs().max().item<float>() < 1e-6);
        Assert.True((all.Images - b.Images).abs().max().item<float>() < 1e-5);
        Assert.True((half.Images - a.Images).abs().mean().item<float>() > 1e-3 && (half.Images - b.Images).abs().mean().item<float>() > 1e-3);
        Assert.Equal((2L, 0.5), half.Settings.Variation);
    }

    [Fact]
    public void PngTextChunksCarryThePromptSeedAndSettings()
    {
        string path = Path.Combine(Path.GetTempPath(), $"ediffi-text-{Guid.NewGuid():N}.png");
        try
        {
            using var image = zeros(3, 8, 8);
            var used = new GenerationSettingsUsed("mossy cobblestones ✓", [42], 32, 2, "heun", "karras", 8, 8,
                new Dictionary<string, IReadOnlyDictionary<string, double>>()) { Tiling = TileAxes.Both };
            ImageFiles.SavePng(image, path, EDiffI.Host.Commands.GenerateCommand.PngText(used, 0, "models/default"));
            var text = ImageFiles.ReadPngText(path);
            Assert.StartsWith("mossy cobblestones ✓\n", text["parameters"]);
            Assert.Contains("Seed: 42", text["parameters"]);
            Assert.Contains("Tiling: xy", text["parameters"]);
            Assert.DoesNotContain("no shift", text["parameters"]);
            Assert.Contains("\"seed\":42", text["ediffi"]);
            Assert.Contains("\"tileShift\":true", text["ediffi"]);
            string fixedPath = path + ".fixed.png";
            ImageFiles.SavePng(image, fixedPath, EDiffI.Host.Commands.GenerateCommand.PngText(used with { TileShift = false }, 0, "models/default"));
            Assert.Contains("Tiling: xy (no shift)", ImageFiles.ReadPngText(fixedPath)["parameters"]);
            File.Delete(fixedPath);
            using var back = ImageFiles.LoadSquare(path, 8); // still a valid PNG (the chunk CRCs are right, or decoders refuse it)
            Assert.Equal(8, back.shape[^1]);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
