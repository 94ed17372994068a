using EDiffI.Host.Pipeline;
using EDiffI.IO;
using EDiffI.Plugins.Experts;
using static TorchSharp.torch;

namespace EDiffI.Tests;

/// <summary>Weights stored in 8 bits (<see cref="Int8Weights"/>) and the <c>quantize</c> verb's copy of a model.</summary>
public class Int8WeightsTests
{
    [Fact]
    public void EachWeightComesBackWithinHalfItsChannelsStepAndSmallTensorsUnchanged()
    {
        using var scope = NewDisposeScope();
        manual_seed(3);
        var conv = randn(16, 8, 3, 3) * linspace(0.01, 2, 16).view(16, 1, 1, 1); // channels of very different ranges
        var bias = randn(16);
        var small = randn(4, 4);
        var packed = Int8Weights.Quantize(new Dictionary<string, Tensor> { ["conv.weight"] = conv, ["conv.bias"] = bias, ["small"] = small });

        Assert.Equal(ScalarType.Int8, packed["conv.weight"].dtype);
        Assert.Equal(new long[] { 16 }, packed["conv.weight" + Int8Weights.ScaleSuffix].shape);
        Assert.False(packed.ContainsKey("conv.bias" + Int8Weights.ScaleSuffix));
        Assert.True(packed["conv.bias"].equal(bias).all().item<bool>());
        Assert.True(packed["small"].equal(small).all().item<bool>());

        var back = Int8Weights.Expand(packed, "test");
        Assert.Equal(3, back.Count);
        var step = conv.abs().amax([1, 2, 3]) / 127;
        var error = (back["conv.weight"] - conv).abs().amax([1, 2, 3]);
        // Half a step, and a little for the float16 rounding of the scale.
        Assert.True((error <= step * 0.5 * 1.01 + 1e-7).all().item<bool>(), $"errors {string.Join(", ", error.data<float>().ToArray())} against steps {string.Join(", ", step.data<float>().ToArray())}");
        // Each channel is quantized on its own scale: the smallest channel is still resolved finely.
        Assert.True(error[0].item<float>() < 1e-3, $"smallest channel's error {error[0].item<float>()}");
    }

    [Fact]
    public void ChannelsTooSmallForAFloat16ScaleComeBackFiniteAndCloseAndZeroChannelsAsZero()
    {
        using var scope = NewDisposeScope();
        manual_seed(4);
        var w = randn(4, 64);
        w[1] = w[1] * 1e-9; // its scale, 1e-9 × 4 / 127, is below float16's smallest step
        w[2] = zeros(64);
        var (values, scale) = Int8Weights.Quantize(w);
        Assert.True((scale.to(ScalarType.Float32) > 0).all().item<bool>());
        var back = Int8Weights.Dequantize(values, scale, "w", "test");
        Assert.True(back.isfinite().all().item<bool>());
        Assert.True((back[1] - w[1]).abs().max().item<float>() < 6e-8);
        Assert.True(back[2].eq(0).all().item<bool>());
        Assert.True(((back[0] - w[0]).abs().max() <= w[0].abs().max() / 254 * 1.01).item<bool>());
    }

    [Fact]
    public void AQuantizedFileLoadsIntoTheModuleWhereTheFloatOneDid()
    {
        using var scope = NewDisposeScope();
        string folder = TempFolder();
        try
        {
            manual_seed(5);
            var module = nn.Sequential(("lin", nn.Linear(64, 32)), ("act", nn.GELU()), ("out", nn.Linear(32, 8)));
            string plain = Path.Combine(folder, "plain.safetensors"), packed = Path.Combine(folder, "packed.safetensors");
            SafeTensorsWeights.Save(module, plain);
            SafeTensorsWeights.Save(Int8Weights.Quantize(SafeTensorsWeights.Read(plain)), packed);
            Assert.True(new FileInfo(packed).Length < 0.45 * new FileInfo(plain).Length, $"{new FileInfo(packed).Length} against {new FileInfo(plain).Length} bytes");

            var x = randn(10, 64);
            var expected = module.forward(x);
            var copy = nn.Sequential(("lin", nn.Linear(64, 32)), ("act", nn.GELU()), ("out", nn.Linear(32, 8)));
            SafeTensorsWeights.Load(copy, packed);
            var got = copy.forward(x);
            double relative = (got - expected).norm().item<float>() / expected.norm().item<float>();
            Assert.InRange(relative, 1e-6, 0.01); // changed (it is 8 bits), but by under 1%
        }
        finally { Directory.Delete(folder, true); }
    }

    [Fact]
    public void ScalesThatDoNotFitTheirTensorAreRefusedByName()
    {
        using var scope = NewDisposeScope();
        string folder = TempFolder();
        try
        {
            string orphan = Path.Combine(folder, "orphan.safetensors"), mismatch = Path.Combine(folder, "mismatch.safetensors");
            SafeTensorsWeights.Save(new Dictionary<string, Tensor> { ["w" + Int8Weights.ScaleSuffix] = ones(4, dtype: ScalarType.Float16) }, orphan);
            var e = Assert.Throws<InvalidDataException>(() => SafeTensorsWeights.Read(orphan));
            Assert.Contains("no tensor 'w'", e.Message);
            Assert.Contains("orphan.safetensors", e.Message);

            SafeTensorsWeights.Save(new Dictionary<string, Tensor>
            {
                ["w"] = zeros(new long[] { 4, 8 }, dtype: ScalarType.Int8), ["w" + Int8Weights.ScaleSuffix] = ones(3, dtype: ScalarType.Float16),
            }, mismatch);
            e = Assert.Throws<InvalidDataException>(() => SafeTensorsWeights.Read(mismatch));
            Assert.Contains("'w' is [4, 8] but its scales are [3]", e.Message);
        }
        finally { Directory.Delete(folder, true); }
    }

    [Fact]
    public void TheShippedModelIsStoredInEightBitsAndQuantizesToTheSameBytes()
    {
        string source = Path.Combine(TinyModel.RepositoryRoot, "models", "default");
        string root = TempFolder(), target = Path.Combine(root, "again");
        try
        {
            // Every weights file of the shipped model (experts, the cascade's stages, T5, CLIP, height) holds 8-bit weights.
            var shipped = Directory.GetFiles(source, "*.safetensors", SearchOption.AllDirectories);
            Assert.All(shipped, f => Assert.True(Int8Weights.IsQuantized(SafeTensorsHeader.Read(f).Tensors.Select(t => t.Name)), f));
            var files = ModelQuantizer.Quantize(source, target);
            Assert.Equal(shipped.Length, files.Count);
            foreach (string file in shipped)
                Assert.Equal(File.ReadAllBytes(file), File.ReadAllBytes(Path.Combine(target, Path.GetRelativePath(source, file))));
            // Everything else is copied as it is.
            Assert.Equal(File.ReadAllText(Path.Combine(source, "model.json")), File.ReadAllText(Path.Combine(target, "model.json")));
        }
        finally { Directory.Delete(root, true); }
    }

    [Fact]
    public void AQuantizedModelIsAboutHalfItsFloat16SizeAndDrawsNearlyTheSameImage()
    {
        string root = TempFolder(), plainFolder = Path.Combine(root, "plain"), packedFolder = Path.Combine(root, "int8");
        try
        {
            using (TinyModel.Pipeline(plainFolder)) { }
            // The tiny model's file in float16, as the trainer exports.
            string weights = Path.Combine(plainFolder, EDiffI.Plugins.UNet.UNetFiles.WeightsFile);
            var tensors = SafeTensorsWeights.Read(weights);
            SafeTensorsWeights.Save(tensors.ToDictionary(kv => kv.Key, kv => kv.Value.to(ScalarType.Float16)), weights);
            var files = ModelQuantizer.Quantize(plainFolder, packedFolder);
            var file = Assert.Single(files);
            Assert.InRange((double)file.BytesAfter / file.BytesBefore, 0.45, 0.6);
            Assert.InRange(file.WorstRelativeError, 1e-5, 0.03);

            using var half = TextToImagePipeline.Load(plainFolder, TinyModel.Catalog, CPU, ScalarType.Float32);
            using var packed = TextToImagePipeline.Load(packedFolder, TinyModel.Catalog, CPU, ScalarType.Float32);
            var request = new GenerationRequest("red stripes", 7, 8, 2.0, Batch: 2);
            var sampler = new EDiffI.Plugins.Sampling.HeunSampler();
            var schedule = new EDiffI.Sampling.KarrasSchedule();
            using var a = half.Generate(request, sampler, schedule);
            using var b = packed.Generate(request, sampler, schedule);
            Assert.False(a.equal(b).all().item<bool>()); // the 8-bit weights are really in use
            // Images in [-1, 1]: PSNR over the range of 2.
            double mse = (a - b).square().mean().item<float>();
            double psnr = 10 * Math.Log10(4 / mse);
            Assert.True(psnr > 30, $"PSNR {psnr:F1} dB between the float16 and the 8-bit model's images");
        }
        finally { Directory.Delete(root, true); }
    }

    [Fact]
    public void AShardedHuggingFaceT5ReadsBackInEightBitsThroughItsStreamingReader()
    {
        using var scope = NewDisposeScope();
        string root = TempFolder(), target = Path.Combine(root, "t5");
        try
        {
            // The transformers checkpoint in nine shards: each shard is quantized on its own, the index is copied.
            var files = ModelQuantizer.Quantize(Encoders.EncoderFixtures.Path("t5-encoder-sharded"), target);
            Assert.Equal(9, files.Count);
            Assert.Contains(files, f => f.Quantized > 0);
            var reference = Encoders.EncoderFixtures.T5Reference;
            using var model = EDiffI.Plugins.T5.T5Loader.LoadEncoder(target);
            using var noGrad = no_grad();
            var hidden = model.Encode(reference["input_ids"], reference["attention_mask"]);
            var (relative, _) = Encoders.EncoderFixtures.Error(hidden, reference["last_hidden_state"]);
            // Changed by 8 bits (the float checkpoint matches transformers within 1e-4), but by little: 1.4% today.
            Assert.InRange(relative, 1e-4, 0.03);
        }
        finally { Directory.Delete(root, true); }
    }

    [Fact]
    public void QuantizeRefusesATargetThatHoldsFilesOrLiesInsideTheSourceAndWritesNothing()
    {
        string root = TempFolder();
        try
        {
            string model = Path.Combine(root, "model");
            Directory.CreateDirectory(model);
            SafeTensorsWeights.Save(new Dictionary<string, Tensor> { ["w"] = randn(32, 32) }, Path.Combine(model, "unet.safetensors"));
            string taken = Path.Combine(root, "taken");
            Directory.CreateDirectory(taken);
            File.WriteAllText(Path.Combine(taken, "keep.txt"), "mine");

            var e = Assert.Throws<ArgumentException>(() => ModelQuantizer.Quantize(model, taken));
            Assert.Contains("already holds files", e.Message);
            Assert.Equal(["keep.txt"], Directory.GetFiles(taken).Select(Path.GetFileName));
            e = Assert.Throws<ArgumentException>(() => ModelQuantizer.Quantize(model, Path.Combine(model, "int8")));
            Assert.Contains("inside", e.Message);
            e = Assert.Throws<ArgumentException>(() => ModelQuantizer.Quantize(model, model + Path.DirectorySeparatorChar));
            Assert.Contains("the model folder itself", e.Message);
            // A damaged weights file is named, and no half-written copy is left.
            string broken = Path.Combine(root, "broken");
            Directory.CreateDirectory(broken);
            File.WriteAllBytes(Path.Combine(broken, "unet.safetensors"), [1, 2, 3]);
            var bad = Assert.Throws<InvalidDataException>(() => ModelQuantizer.Quantize(broken, Path.Combine(root, "z")));
            Assert.Contains("unet.safetensors", bad.Message);
            Directory.Delete(broken, true);
            e = Assert.Throws<ArgumentException>(() => ModelQuantizer.Quantize(taken, Path.Combine(root, "x")));
            Assert.Contains("no .safetensors", e.Message);
            e = Assert.Throws<ArgumentException>(() => ModelQuantizer.Quantize(Path.Combine(root, "missing"), Path.Combine(root, "y")));
            Assert.Contains("no model folder", e.Message);
            Assert.Equal(["model", "taken"], Directory.GetDirectories(root).Select(Path.GetFileName).Order());
        }
        finally { Directory.Delete(root, true); }
    }

    private static string TempFolder()
    {
        string folder = Path.Combine(Path.GetTempPath(), "int8-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        return folder;
    }
}
