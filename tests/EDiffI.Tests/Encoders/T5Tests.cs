using System.Text.Json.Nodes;
using EDiffI.Conformance;
using EDiffI.Encoders;
using EDiffI.IO;
using EDiffI.Plugins.T5;
using static TorchSharp.torch;

namespace EDiffI.Tests.Encoders;

/// <summary>The encoder fixtures of tests/Fixtures/Encoders (made by transformers 5.17, scripts/fixtures).</summary>
internal static class EncoderFixtures
{
    public static string Root { get; } = Find();

    public static string Path(params string[] parts) => System.IO.Path.Combine([Root, .. parts]);

    private static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = System.IO.Path.Combine(dir.FullName, "tests", "Fixtures", "Encoders");
            if (Directory.Exists(candidate)) return candidate;
        }
        throw new DirectoryNotFoundException("tests/Fixtures/Encoders not found above " + AppContext.BaseDirectory);
    }

    public static JsonObject T5Json => (JsonObject)JsonNode.Parse(File.ReadAllText(Path("reference", "t5.json")))!;

    public static Dictionary<string, Tensor> T5Reference => SafeTensorsWeights.Read(Path("reference", "t5.safetensors"));

    /// <summary>‖a − b‖ / ‖b‖ and max |a − b|.</summary>
    public static (double Relative, double MaxAbs) Error(Tensor a, Tensor b)
    {
        using var scope = NewDisposeScope();
        var d = a.to(ScalarType.Float64) - b.to(ScalarType.Float64);
        return ((d.norm() / b.to(ScalarType.Float64).norm()).item<double>(), d.abs().max().item<double>());
    }
}

public class T5TokenizerTests
{
    private static readonly T5Tokenizer Tokenizer = T5Tokenizer.Load(EncoderFixtures.Path("tokenizers", "spiece.model"));

    [Fact]
    public void IdsAndPiecesEqualTransformers()
    {
        var json = EncoderFixtures.T5Json;
        var prompts = json["prompts"]!.AsArray().Select(p => p!.GetValue<string>()).ToList();
        Assert.Equal(json["vocab_with_sentinels"]!.GetValue<int>(), Tokenizer.VocabularySize);
        for (int i = 0; i < prompts.Count; i++)
        {
            var expectedIds = json["ids"]![i]!.AsArray().Select(x => x!.GetValue<int>()).ToList();
            var expectedPieces = json["pieces"]![i]!.AsArray().Select(x => x!.GetValue<string>()).ToList();
            var tokens = Tokenizer.Tokenize(prompts[i]).Tokens;
            Assert.Equal(expectedIds, tokens.Select(t => t.Id));
            Assert.Equal(expectedPieces, tokens.Select(t => t.Text));
        }
    }

    [Fact]
    public void SentinelsAreTheLastIdsAndSplitTheText()
    {
        var json = EncoderFixtures.T5Json;
        var reference = EncoderFixtures.T5Reference;
        Assert.Equal(426, Tokenizer.SentinelId(0));
        Assert.Equal(327, Tokenizer.SentinelId(99));
        Assert.Equal(reference["full_input_ids"][0].data<long>().Select(x => (int)x), Tokenizer.Encode(json["span_source"]!.GetValue<string>()));
        Assert.Equal(reference["full_labels"][0].data<long>().Select(x => (int)x), Tokenizer.Encode(json["span_target"]!.GetValue<string>()));
    }

    [Fact]
    public void SpansPointIntoTheOriginalPrompt()
    {
        const string prompt = "Zebra quokka 42 -- unseen words, UPPER case & punctuation!";
        var tokenization = Tokenizer.Tokenize(prompt);
        foreach (var t in tokenization.Tokens.Where(t => !t.IsSpecial && t.Text != "<unk>" && t.Text != "▁"))
            Assert.Equal(t.Text.TrimStart('▁'), prompt.Substring(t.Start, t.Length));
        // "punctuation" is nine pieces: ▁p u n ct u a t i on.
        var positions = tokenization.Locate(prompt, "punctuation");
        Assert.Equal(9, positions.Count);
        Assert.Equal("punctuation", string.Concat(positions.Select(p => tokenization.Tokens[p].Text)).TrimStart('▁'));
        // Unknown characters merge into one token covering all of them, as SentencePiece does.
        var upper = tokenization.Locate(prompt, "UPPER");
        Assert.Single(upper);
        Assert.Equal(("<unk>", prompt.IndexOf("UPPER", StringComparison.Ordinal), 5),
            (tokenization.Tokens[upper[0]].Text, tokenization.Tokens[upper[0]].Start, tokenization.Tokens[upper[0]].Length));
        // Collapsed double spaces and full-width letters still map back to the original characters.
        const string spaced = "three yellow circles  above ｆｕｌｌ moss";
        var s = Tokenizer.Tokenize(spaced);
        var above = s.Tokens.Single(t => t.Text == "▁above");
        Assert.Equal(spaced.IndexOf("above", StringComparison.Ordinal), above.Start);
        var full = s.Locate(spaced, "ｆｕｌｌ");
        Assert.NotEmpty(full);
        Assert.All(full, p => Assert.InRange(s.Tokens[p].Start, spaced.IndexOf('ｆ'), spaced.IndexOf('ｆ') + 3));
    }

    [Fact]
    public void TruncationKeepsTheEndTokenAndCountsTheRest()
    {
        const string prompt = "A game texture showing teal spots on black. The pattern is large-scale, sparse.";
        var all = Tokenizer.Tokenize(prompt);
        var cut = Tokenizer.Tokenize(prompt, maxTokens: 8);
        Assert.Equal(8, cut.Tokens.Count);
        Assert.Equal(all.Tokens.Count - 8, cut.Dropped);
        Assert.Equal(1, cut.Tokens[^1].Id);
        Assert.Equal(all.Tokens.Take(7), cut.Tokens.Take(7));
        Assert.Empty(cut.Locate(prompt, "sparse"));
    }
}

public class T5EncoderTests
{
    [Theory]
    [InlineData("t5-encoder")]
    [InlineData("t5-encoder-sharded")]
    public void LastHiddenStateMatchesTransformers(string folder)
    {
        var reference = EncoderFixtures.T5Reference;
        using var model = T5Loader.LoadEncoder(EncoderFixtures.Path(folder));
        using var noGrad = no_grad();
        var hidden = model.Encode(reference["input_ids"], reference["attention_mask"]);
        var (relative, maxAbs) = EncoderFixtures.Error(hidden, reference["last_hidden_state"]);
        Assert.True(relative <= 1e-4, $"relative error {relative}");
        Assert.True(maxAbs <= 1e-4 * reference["last_hidden_state"].abs().max().item<float>() * 10, $"max abs error {maxAbs}");
    }

    [Fact]
    public void EncodeGivesTheReferenceAtRealTokensAndZerosElsewhere()
    {
        var json = EncoderFixtures.T5Json;
        var reference = EncoderFixtures.T5Reference;
        var prompts = json["prompts"]!.AsArray().Select(p => p!.GetValue<string>()).ToList();
        using var encoder = new T5TextEncoder(EncoderFixtures.Path("t5-encoder"), maxTokens: 64);
        var e = encoder.Encode(prompts, CPU);
        Assert.Null(e.Pooled);
        Assert.True(e.Mask.equal(reference["attention_mask"].to(ScalarType.Bool)).all().item<bool>());
        var expected = reference["last_hidden_state"] * reference["attention_mask"].unsqueeze(2).to(ScalarType.Float32);
        Assert.True(EncoderFixtures.Error(e.Tokens, expected).Relative <= 1e-4);
    }

    [Fact]
    public void EncoderDecoderLogitsAndLossMatchTransformers()
    {
        var reference = EncoderFixtures.T5Reference;
        using var model = T5Loader.LoadConditionalGeneration(EncoderFixtures.Path("t5-full"));
        using var noGrad = no_grad();
        var (logits, loss) = model.Forward(reference["full_input_ids"], ones_like(reference["full_input_ids"]), reference["full_labels"]);
        var (relative, maxAbs) = EncoderFixtures.Error(logits, reference["full_logits"]);
        Assert.True(relative <= 1e-4, $"relative error {relative}, max abs {maxAbs}");
        Assert.Equal(reference["full_loss"].item<float>(), loss.item<float>(), 1e-3);
    }

    [Fact]
    public void ACheckpointWithMissingAndMisshapenTensorsIsRefusedInOneMessage()
    {
        using var temp = new TinyModel.TempFolder();
        foreach (var f in new[] { "config.json", "spiece.model" })
            File.Copy(EncoderFixtures.Path("t5-encoder", f), System.IO.Path.Combine(temp.Path, f));
        var tensors = SafeTensorsWeights.Read(EncoderFixtures.Path("t5-encoder", "model.safetensors"));
        tensors.Remove("encoder.block.1.layer.0.SelfAttention.k.weight");
        tensors.Remove("encoder.final_layer_norm.weight");
        tensors["encoder.block.0.layer.1.DenseReluDense.wo.weight"] = zeros(64, 100);
        tensors["decoder.block.0.layer.0.SelfAttention.q.weight"] = zeros(64, 64); // extra tensors are fine
        SafeTensorsWeights.Save(tensors, System.IO.Path.Combine(temp.Path, "model.safetensors"));
        var error = Assert.Throws<InvalidDataException>(() => new T5TextEncoder(temp.Path, 16));
        Assert.Contains("2 missing: encoder.block.1.layer.0.SelfAttention.k.weight, encoder.final_layer_norm.weight", error.Message);
        Assert.Contains("1 wrongly shaped: encoder.block.0.layer.1.DenseReluDense.wo.weight is [64, 100], expected [64, 128]", error.Message);
        Assert.DoesNotContain("decoder", error.Message);
    }

    [Fact]
    public void StoredHalfPrecisionAndATiedEmbeddingLoad()
    {
        using var temp = new TinyModel.TempFolder();
        foreach (var f in new[] { "config.json", "spiece.model" })
            File.Copy(EncoderFixtures.Path("t5-encoder", f), System.IO.Path.Combine(temp.Path, f));
        var tensors = SafeTensorsWeights.Read(EncoderFixtures.Path("t5-encoder", "model.safetensors"))
            .ToDictionary(kv => kv.Key == "shared.weight" ? "encoder.embed_tokens.weight" : kv.Key, kv => kv.Value.to(ScalarType.BFloat16));
        SafeTensorsWeights.Save(tensors, System.IO.Path.Combine(temp.Path, "model.safetensors"));
        var reference = EncoderFixtures.T5Reference;
        using var model = T5Loader.LoadEncoder(temp.Path);
        using var noGrad = no_grad();
        Assert.Equal(ScalarType.Float32, model.DType);
        var hidden = model.Encode(reference["input_ids"], reference["attention_mask"]);
        Assert.InRange(EncoderFixtures.Error(hidden, reference["last_hidden_state"]).Relative, 1e-6, 3e-2);
    }

    [Fact]
    public void MoveToBFloat16StaysCloseToFloat32()
    {
        using var encoder = new T5TextEncoder(EncoderFixtures.Path("t5-encoder"), maxTokens: 32);
        string[] prompts = ["red bricks with white mortar", "a blue ring"];
        var f32 = encoder.Encode(prompts, CPU);
        encoder.MoveTo(CPU, ScalarType.BFloat16);
        Assert.Equal(ScalarType.BFloat16, encoder.Model.DType);
        var bf16 = encoder.Encode(prompts, CPU);
        Assert.Equal(ScalarType.Float32, bf16.Tokens.dtype);
        Assert.InRange(EncoderFixtures.Error(bf16.Tokens, f32.Tokens).Relative, 0, 3e-2);
    }

    [Fact]
    public void TheFactoryResolvesThePathAndRefusesBadSpecs()
    {
        var factory = new T5EncoderFactory();
        Assert.Equal("t5", factory.Kind);
        using var encoder = factory.Create(new TextEncoderSpec { Kind = "t5", Path = "t5-encoder", Dimension = 64, MaxTokens = 16 }, EncoderFixtures.Root);
        Assert.Equal(64, encoder.Dimension);
        Assert.Equal(16, encoder.MaxTokens);
        var noPath = Assert.Throws<ArgumentException>(() => factory.Create(new TextEncoderSpec { Kind = "t5", Dimension = 64 }, EncoderFixtures.Root));
        Assert.Contains("needs Path", noPath.Message);
        var width = Assert.Throws<InvalidDataException>(() => factory.Create(new TextEncoderSpec { Kind = "t5", Path = "t5-encoder", Dimension = 32 }, EncoderFixtures.Root));
        Assert.Contains("d_model 64", width.Message);
        var missing = Assert.Throws<DirectoryNotFoundException>(() => factory.Create(new TextEncoderSpec { Kind = "t5", Path = "nowhere", Dimension = 64 }, EncoderFixtures.Root));
        Assert.Contains("nowhere", missing.Message);
        var notT5 = Assert.Throws<InvalidDataException>(() => factory.Create(new TextEncoderSpec { Kind = "t5", Path = "clip", Dimension = 64 }, EncoderFixtures.Root));
        Assert.Contains("spiece.model", notT5.Message);
    }
}

public class T5DescribeTests
{
    [Fact]
    public void DescribeAgreesWithTheBuiltEncoderAndReadsOnlyTheConfiguration()
    {
        ITextEncoderFactory factory = new T5EncoderFactory();
        var spec = new TextEncoderSpec { Kind = "t5", Path = "t5-encoder", Dimension = 64, MaxTokens = 16 };
        using (var encoder = factory.Create(spec, EncoderFixtures.Root))
            Assert.Equal(new TextEncoderShape(encoder.Dimension, encoder.MaxTokens, encoder.PooledDimension), factory.Describe(spec, EncoderFixtures.Root));
        Assert.Equal(TextStream.T5, factory.CheckpointStream);
        Assert.False(factory.IsStandIn);
        // A folder holding only config.json: nothing to build from, enough to describe.
        using var folder = new TinyModel.TempFolder();
        File.Copy(EncoderFixtures.Path("t5-encoder", "config.json"), System.IO.Path.Combine(folder.Path, "config.json"));
        Assert.Equal(new TextEncoderShape(64, 16, null), factory.Describe(spec with { Path = folder.Path }, null));
        Assert.ThrowsAny<Exception>(() => factory.Create(spec with { Path = folder.Path }, null));
        var width = Assert.Throws<InvalidDataException>(() => factory.Describe(spec with { Dimension = 32 }, EncoderFixtures.Root));
        Assert.Contains("d_model 64", width.Message);
        Assert.Throws<DirectoryNotFoundException>(() => factory.Describe(spec with { Path = "nowhere" }, EncoderFixtures.Root));
    }

    [Fact]
    public void ForCheckpointWritesTheSpecTrainingUsed()
    {
        ITextEncoderFactory factory = new T5EncoderFactory();
        string folder = EncoderFixtures.Path("t5-encoder");
        var spec = factory.ForCheckpoint(folder);
        Assert.Equal(new TextEncoderSpec { Kind = "t5", MaxTokens = 128, Path = folder, Dimension = 64 }, spec);
        using var encoder = factory.Create(spec, null);
        Assert.Equal(spec.Dimension, encoder.Dimension);
        Assert.Throws<InvalidDataException>(() => factory.ForCheckpoint(EncoderFixtures.Path("clip")));
    }
}

public class T5EncoderConformance : TextEncoderConformance
{
    protected override ITextEncoder CreateEncoder() =>
        new T5EncoderFactory().Create(new TextEncoderSpec { Kind = "t5", Path = "t5-encoder", Dimension = 64, MaxTokens = 16 }, EncoderFixtures.Root);
}
