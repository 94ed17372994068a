using EDiffI.Attention;
using EDiffI.Conditioning;
using EDiffI.Denoising;
using EDiffI.Diffusion;
using EDiffI.IO;
using EDiffI.Plugins.TextHash;
using EDiffI.Plugins.UNet;
using TorchSharp;
using static TorchSharp.torch;

namespace EDiffI.Tests;

public class UNetTests
{
    // σ of a test's c_noise = ln(σ)/4 (EDM, Table 1), the σ its network call carries beside it.
    private static Tensor Sigma(Tensor cNoise) => (cNoise * 4).exp();

    internal static ConditioningInputs Prompts(params string[] prompts)
    {
        using var t5 = TinyModel.T5();
        using var clip = TinyModel.Clip();
        return new ConditioningInputs(t5.Encode(prompts, CPU), clip.Encode(prompts, CPU));
    }

    internal static EDiffIUNet Randomised(ulong seed)
    {
        manual_seed((long)seed);
        var model = new EDiffIUNet(TinyModel.Config);
        // Zero-initialised output layers would hide the conditioning; give every weight a value.
        using var noGrad = no_grad();
        foreach (var p in model.parameters()) p.add_(randn_like(p) * 0.05);
        return model;
    }

    [Fact]
    public void ZeroInitialisedNetworkDenoisesByCSkip()
    {
        using var model = new EDiffIUNet(TinyModel.Config);
        var d = new PreconditionedDenoiser(model);
        using var x = randn(2, 3, 16, 16, dtype: ScalarType.Float64);
        using var sigma = tensor(new[] { 0.3, 7.0 });
        using var y = d.Denoise(x, sigma, Prompts("a", "b"));
        using var expected = Edm.CSkip(sigma).view(-1, 1, 1, 1) * x;
        Assert.Equal(ScalarType.Float64, y.dtype);
        Assert.True(y.allclose(expected, 1e-6, 1e-6));
    }

    [Fact]
    public void PaddingIsMaskedAndTextChangesTheOutput()
    {
        using var model = Randomised(3);
        model.eval();
        using var noGrad = no_grad();
        using var x = randn(1, 3, 16, 16);
        using var c = full(1, -0.5f);
        var cond = Prompts("red stripes");
        using var a = model.Forward(x, Sigma(c), c, cond);
        // Garbage in padded positions must not matter.
        var t5 = cond.T5Text!;
        var noisy = t5 with { Tokens = t5.Tokens + randn_like(t5.Tokens) * 100 * (~t5.Mask).unsqueeze(2).to(ScalarType.Float32) };
        using var b = model.Forward(x, Sigma(c), c, cond with { T5Text = noisy });
        Assert.True(a.allclose(b, 1e-5, 1e-5));
        using var other = model.Forward(x, Sigma(c), c, Prompts("a blue square"));
        Assert.False(a.allclose(other, 1e-3, 1e-3));
    }

    private sealed class CountingProcessor : ICrossAttentionProcessor
    {
        public List<string> Layers { get; } = [];
        public Tensor Attend(CrossAttentionInputs inputs)
        {
            Layers.Add(inputs.Layer.Name);
            Assert.Equal(inputs.Layout.Length, inputs.Key.shape[2]);
            Assert.Equal(inputs.Layer.Height * inputs.Layer.Width, inputs.Query.shape[2]);
            return DefaultCrossAttentionProcessor.Instance.Attend(inputs);
        }
    }

    [Fact]
    public void CrossAttentionProcessorsCanBeSwappedPerLayer()
    {
        using var model = Randomised(4);
        using var noGrad = no_grad();
        var layers = model.CrossAttentionLayers;
        Assert.NotEmpty(layers);
        var counting = new CountingProcessor();
        model.SetCrossAttentionProcessor(layer => layer == layers[0] ? counting : null);
        using var x = randn(1, 3, 16, 16);
        using var c = zeros(1);
        using var swapped = model.Forward(x, Sigma(c), c, Prompts("red stripes"));
        Assert.Equal([layers[0].Name], counting.Layers);
        var all = new CountingProcessor();
        model.SetCrossAttentionProcessor(_ => all);
        using var again = model.Forward(x, Sigma(c), c, Prompts("red stripes"));
        Assert.Equal(layers.Select(l => l.Name), all.Layers);
        Assert.True(swapped.allclose(again, 1e-6, 1e-6));
    }

    [Fact]
    public void GuidanceOfOneIsTheConditionalModel()
    {
        using var model = Randomised(5);
        using var noGrad = no_grad();
        var d = new PreconditionedDenoiser(model);
        using var x = randn(2, 3, 16, 16, dtype: ScalarType.Float64);
        using var s = tensor(new[] { 1.0, 1.0 });
        var cond = Prompts("red stripes", "a blue square");
        using var plain = d.Denoise(x, s, cond);
        using var one = new ClassifierFreeGuidance(d, 1).Denoise(x, s, cond);
        Assert.True(plain.equal(one).all().item<bool>());
        using var uncond = d.Denoise(x, s, ConditioningInputs.Unconditional);
        using var three = new ClassifierFreeGuidance(d, 3).Denoise(x, s, cond);
        using var expected = uncond + 3 * (plain - uncond);
        Assert.True(three.allclose(expected, 1e-5, 1e-5));
    }

    [Fact]
    public void WeightsRoundTripThroughSafetensors()
    {
        using var folder = new TinyModel.TempFolder();
        using var model = Randomised(6);
        UNetFiles.Save(model, folder.Path);
        using var loaded = UNetFiles.Load(folder.Path);
        using var noGrad = no_grad();
        using var x = randn(1, 3, 16, 16);
        using var c = zeros(1);
        var cond = Prompts("a green gradient");
        using var a = model.Forward(x, Sigma(c), c, cond);
        using var b = loaded.Forward(x, Sigma(c), c, cond);
        Assert.True(a.equal(b).all().item<bool>());
    }

    [Fact]
    public void MismatchedWeightsAreRefusedWithEveryProblemListed()
    {
        using var folder = new TinyModel.TempFolder();
        using var model = new EDiffIUNet(TinyModel.Config);
        var state = model.state_dict();
        var broken = new Dictionary<string, Tensor>(state);
        broken.Remove("out_conv.weight");
        broken["enc.16x16_block0.conv0.weight"] = zeros(5, 5);
        broken["stray.tensor"] = zeros(3);
        string path = Path.Combine(folder.Path, "bad.safetensors");
        SafeTensorsWeights.Save(broken, path);
        using var target = new EDiffIUNet(TinyModel.Config);
        using var before = target.state_dict()["map_layer0.weight"].clone();
        var e = Assert.Throws<InvalidDataException>(() => SafeTensorsWeights.Load(target, path));
        Assert.Contains("1 missing: out_conv.weight", e.Message);
        Assert.Contains("1 unexpected: stray.tensor", e.Message);
        Assert.Contains("enc.16x16_block0.conv0.weight is [5, 5], expected [32, 32, 3, 3]", e.Message);
        Assert.True(before.equal(target.state_dict()["map_layer0.weight"]).all().item<bool>()); // nothing was copied
    }

    [Fact]
    public void Adm64ConfigurationHasTheReferenceSize()
    {
        // The ADM ImageNet-64 network: 295M parameters (Dhariwal and Nichol 2021); built on the CPU and counted.
        using var meta = new EDiffIUNet(UNetConfig.Adm64 with { Resolution = 64 });
        long parameters = meta.parameters().Sum(p => p.numel());
        Assert.InRange(parameters, 294_000_000, 297_000_000);
    }
}

public class UNetConversionTests
{
    [Fact]
    public void ModelConvertsToBFloat16AndKeepsItsKeys()
    {
        using var model = new EDiffIUNet(TinyModel.Config);
        var keys = model.state_dict().Keys.ToList();
        Assert.Contains("enc.16x16_block0.conv0.weight", keys);
        model.to(ScalarType.BFloat16);
        model.ComputeType = ScalarType.BFloat16;
        Assert.All(model.parameters(), p => Assert.Equal(ScalarType.BFloat16, p.dtype));
        Assert.Equal(keys, model.state_dict().Keys.ToList());
        using var noGrad = no_grad();
        using var y = model.Forward(randn(1, 3, 16, 16, dtype: ScalarType.BFloat16), ones(1), zeros(1), ConditioningInputs.Unconditional);
        Assert.Equal(ScalarType.BFloat16, y.dtype);
    }

    [Fact]
    public void ThePooledT5VectorCarriesThePromptIntoTheTimeEmbeddingWithoutCrossAttention()
    {
        // No cross-attention and no CLIP: the T5 tokens can only reach the network through the pooled vector.
        var config = TinyModel.Config with { CrossAttention = false, ClipTextDimension = 0, ClipPooledDimension = 0, ClipImageDimension = 0 };
        UNetConfig pooled = config with { T5PooledDimension = config.T5Dimension };
        using var t5 = TinyModel.T5();
        var red = new ConditioningInputs(T5Text: t5.Encode(["a red square"], CPU));
        var blue = new ConditioningInputs(T5Text: t5.Encode(["blue stripes on a green field"], CPU));
        using var x = randn(1, 3, 16, 16);
        using var cNoise = full(1, 0.1f);
        using var noGrad = no_grad();
        float Gap(UNetConfig c)
        {
            manual_seed(3);
            using var model = new EDiffIUNet(c);
            foreach (var p in model.parameters()) p.add_(randn_like(p) * 0.05);
            using var a = model.Forward(x, (cNoise * 4).exp(), cNoise, red);
            using var b = model.Forward(x, (cNoise * 4).exp(), cNoise, blue);
            return (a - b).abs().max().item<float>();
        }
        Assert.Equal(0f, Gap(config));
        Assert.True(Gap(pooled) > 1e-3f, "with the pooled T5 vector the prompt changes the output");
        using (var built = new EDiffIUNet(pooled)) Assert.Equal(config.T5Dimension, built.Conditioning.T5Pooled);
        // The vector is the mean over the prompt's own tokens: padding does not move it.
        using var tokens = tensor(new float[] { 1, 2, 3, 4, 100, 100 }).view(1, 3, 2);
        using var mask = tensor(new[] { true, true, false }).view(1, 3);
        using var mean = EDiffIUNet.MaskedMean(tokens, mask);
        Assert.Equal(new float[] { 2, 3 }, mean.data<float>().ToArray());
        Assert.Contains("T5 width", Assert.Throws<InvalidDataException>(() => (config with { T5PooledDimension = 7 }).Validate()).Message);
    }
}
