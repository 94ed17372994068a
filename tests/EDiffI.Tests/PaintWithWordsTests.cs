using EDiffI.Attention;
using EDiffI.Conditioning;
using EDiffI.Encoders;
using EDiffI.Host.Imaging;
using EDiffI.Host.Pipeline;
using EDiffI.Host.Runtime;
using EDiffI.Plugins.Clip;
using EDiffI.Plugins.PaintWithWords;
using EDiffI.Plugins.Sampling;
using EDiffI.Plugins.T5;
using EDiffI.Plugins.UNet;
using EDiffI.Sampling;
using static TorchSharp.torch;

namespace EDiffI.Tests;

public class PaintWithWordsTests
{
    private static string DefaultModel => Path.Combine(TinyModel.RepositoryRoot, "models", "default");

    [Fact]
    public void PhrasesAreFoundInBothTokenizersIncludingSplitWords()
    {
        using var clip = ClipTextEncoder.Load(Path.Combine(DefaultModel, "clip"));
        using var t5 = new T5TextEncoder(Path.Combine(DefaultModel, "t5"), 128);
        var encoders = new Dictionary<TextStream, ITextEncoder> { [TextStream.Clip] = clip, [TextStream.T5] = t5 };
        const string prompt = "red bricks above a xylophonistic waterfall";
        foreach (string phrase in new[] { "red bricks", "xylophonistic" })
        {
            var found = PaintWithWords.Locate(prompt, phrase, encoders);
            int at = prompt.IndexOf(phrase, StringComparison.Ordinal);
            foreach (var (encoder, positions) in new[] { ((ITextEncoder)clip, found.Clip), (t5, found.T5) })
            {
                var tokens = encoder.Tokenize(prompt).Tokens;
                // Several tokens each (two words; a rare word split into pieces), contiguous, covering exactly the phrase.
                Assert.True(positions.Count >= 2, $"{encoder.Name}: '{phrase}' gives {positions.Count} token(s)");
                Assert.Equal(Enumerable.Range(positions[0], positions.Count), positions);
                Assert.True(tokens[positions[0]].Start <= at, $"{encoder.Name}: first token starts after the phrase");
                var last = tokens[positions[^1]];
                Assert.True(last.Start + last.Length >= at + phrase.Length, $"{encoder.Name}: last token ends before the phrase");
                Assert.All(positions, p => Assert.False(tokens[p].IsSpecial));
            }
        }
        // CLIP places a start token first, so its positions differ from T5's (which has none).
        Assert.Equal(1, PaintWithWords.Locate(prompt, "red", encoders).Clip[0]);
        Assert.Equal(0, PaintWithWords.Locate(prompt, "red", encoders).T5[0]);
        var e = Assert.Throws<ArgumentException>(() => PaintWithWords.Locate(prompt, "green grass", encoders));
        Assert.Contains("'green grass'", e.Message);
    }

    [Fact]
    public void MasksKeepTheirAreaAtEveryAttentionResolution()
    {
        using var net = new EDiffIUNet(UNetConfig.Tiny(16) with { AttentionResolutions = [16, 8, 4], ChannelMultipliers = [1, 2, 2] });
        var sides = net.CrossAttentionLayers.Select(l => l.Height).Distinct().OrderBy(s => s).ToList();
        Assert.True(sides.Count >= 3, $"resolutions {string.Join(", ", sides)}");
        // An irregular region: a disc plus a stripe, 64×64 like a scribble at image resolution.
        using var grid = arange(64, dtype: ScalarType.Float32);
        using var y = grid.view(-1, 1).expand(64, 64);
        using var x = grid.view(1, -1).expand(64, 64);
        using var disc = ((x - 20).square() + (y - 30).square() < 150).to(ScalarType.Float32);
        using var stripe = (x > 50).to(ScalarType.Float32);
        using var mask = (disc + stripe).clamp_max(1);
        var context = new PaintContext([mask], [new PhraseTokens("a", [1], [0])], 0.4);
        double area = mask.mean().item<float>();
        foreach (int side in sides)
        {
            using var resized = context.MasksAt(side, side);
            Assert.Equal(new long[] { 1, side * side }, resized.shape);
            Assert.Equal(area, resized.mean().item<float>(), 5);
            Assert.True(resized.min().item<float>() >= 0 && resized.max().item<float>() <= 1);
        }
    }

    [Fact]
    public void EachRegionKeepsItsOwnWeightInTheTokenRegionMatrix()
    {
        // Left half "a" (CLIP token 1, T5 token 0) at w′ 1, right half "b" (CLIP token 3) at w′ 0.25.
        using var left = zeros(8, 8);
        left[.., ..4] = ones(8, 4);
        using var right = 1 - left;
        using var context = new PaintContext([left, right], [new PhraseTokens("a", [1], [0]), new PhraseTokens("b", [3], [])], [1.0, 0.25]);
        Assert.Equal(1.0, context.Weight);
        var layout = new ContextLayout(ClipStart: 0, ClipLength: 4, T5Start: 4, T5Length: 2, ImageIndex: -1, NullIndex: -1);
        var a = context.RegionTokenMatrix(4, 4, layout, 6, CPU);
        Assert.Equal(new long[] { 16, 6 }, a.shape);
        Assert.Same(a, context.RegionTokenMatrix(4, 4, layout, 6, CPU)); // built once per shape
        using var column1 = a[.., 1].view(4, 4);
        using var column3 = a[.., 3].view(4, 4);
        using var column4 = a[.., 4].view(4, 4);
        Assert.Equal(new float[] { 1, 1, 0, 0 }, column1[0].data<float>().ToArray());
        Assert.Equal(new float[] { 0, 0, 0.25f, 0.25f }, column3[0].data<float>().ToArray());
        Assert.Equal(new float[] { 1, 1, 0, 0 }, column4[0].data<float>().ToArray()); // T5 token 0 of "a"
        using var others = a[.., 0].abs().sum() + a[.., 2].abs().sum() + a[.., 5].abs().sum();
        Assert.Equal(0, others.item<float>());
        Assert.Throws<ArgumentException>(() => new PaintContext([left], [new PhraseTokens("a", [1], [])], [-1.0]));
    }

    [Fact]
    public void WithAnOutsidePushAPhrasesTokensAreWeighedDownWhereNoneOfItsRegionsLies()
    {
        // Left half "a" (CLIP token 1) at w′ 1, right half "b" (CLIP token 3) at w′ 0.25; push 2 outside.
        using var left = zeros(8, 8);
        left[.., ..4] = ones(8, 4);
        using var right = 1 - left;
        var phrases = new[] { new PhraseTokens("a", [1], []), new PhraseTokens("b", [3], []) };
        using var context = new PaintContext([left, right], phrases, [1.0, 0.25], outside: 2);
        var layout = new ContextLayout(ClipStart: 0, ClipLength: 4, T5Start: 4, T5Length: 2, ImageIndex: -1, NullIndex: -1);
        var a = context.RegionTokenMatrix(4, 4, layout, 6, CPU);
        using var column1 = a[.., 1].view(4, 4);
        using var column3 = a[.., 3].view(4, 4);
        Assert.Equal(new float[] { 1, 1, -2, -2 }, column1[0].data<float>().ToArray());
        Assert.Equal(new float[] { -0.5f, -0.5f, 0.25f, 0.25f }, column3[0].data<float>().ToArray()); // in proportion to its w′
        using var others = a[.., 0].abs().sum() + a[.., 2].abs().sum() + a[.., 4].abs().sum() + a[.., 5].abs().sum();
        Assert.Equal(0, others.item<float>()); // tokens of no phrase are left alone
        // Without the push, the paper's matrix.
        using var paper = new PaintContext([left, right], phrases, [1.0, 0.25]);
        Assert.True(paper.RegionTokenMatrix(4, 4, layout, 6, CPU).ge(0).all().item<bool>());
        Assert.Throws<ArgumentException>(() => new PaintContext([left], [phrases[0]], [1.0], outside: -1));
        Assert.Throws<ArgumentException>(() => new Microsoft.Extensions.DependencyInjection.ServiceCollection().AddPaintWithWords(o => o.Outside = double.NaN));
    }

    /// <summary>
    /// With V the identity, attention's output is its probabilities, so the mass on the phrase's tokens
    /// can be read off directly.
    /// </summary>
    [Fact]
    public void FullImageMaskMovesAttentionMassToThePhrase()
    {
        manual_seed(3);
        const int heads = 2, side = 4, length = 10;
        using var q = randn(1, heads, side * side, length);
        using var k = randn(1, heads, length, length);
        using var v = eye(length).expand(1, heads, length, length).contiguous();
        using var keyMask = ones(1, length, dtype: ScalarType.Bool);
        using var sigma = tensor(new[] { 2.5f });
        var layout = new ContextLayout(0, 4, 4, 4, 8, 9);
        var layer = new CrossAttentionLayer("test.xattn", side, side, heads);
        using var full = ones(16, 16);
        var phrase = new PhraseTokens("red bricks", [1, 2], [0]);
        int[] keys = [1, 2, 4];   // CLIP 1, 2 and T5 0 sit at 1, 2 and 4 of the context

        double Mass(ConditioningInputs c)
        {
            using var p = PaintWithWordsProcessor.Instance.Attend(new CrossAttentionInputs(q, k, v, keyMask, layer, layout, sigma, c));
            Assert.Equal(1.0, p.sum(-1).mean().item<float>(), 5);
            using var idx = tensor(keys.Select(i => (long)i).ToArray());
            return p.index_select(-1, idx).sum(-1).mean().item<float>();
        }

        double plain = Mass(new ConditioningInputs());
        using (var reference = DefaultCrossAttentionProcessor.Instance.Attend(new CrossAttentionInputs(q, k, v, keyMask, layer, layout, sigma, new())))
        using (var zero = PaintWithWordsProcessor.Instance.Attend(new CrossAttentionInputs(q, k, v, keyMask, layer, layout, sigma,
                   new ConditioningInputs().With(new PaintContext([full], [phrase], 0)))))
            Assert.True(zero.equal(reference).all().item<bool>());
        double weak = Mass(new ConditioningInputs().With(new PaintContext([full], [phrase], 0.2)));
        double strong = Mass(new ConditioningInputs().With(new PaintContext([full], [phrase], 1.0)));
        double std = Mass(new ConditioningInputs().With(new PaintContext([full], [phrase], 1.0, PaintWeights.Std)));
        Assert.True(plain < weak && weak < strong, $"mass on the phrase: plain {plain:g4}, w'=0.2 {weak:g4}, w'=1 {strong:g4}");
        Assert.True(std > plain, $"std weighting: {std:g4} vs plain {plain:g4}");
    }

    [Fact]
    public void WeightFunctionsFollowTheirFormulas()
    {
        using var logits = tensor(new[] { 1f, 3f, -2f, 7f }).view(1, 1, 2, 2);
        using var keyMask = tensor(new[] { true, false }).view(1, 1, 1, 2);  // the 7 belongs to a masked key
        using var sigma = tensor(new[] { 4f });
        using var omega = PaintWeights.Max(0.5, sigma, logits, keyMask);
        Assert.Equal(0.5 * Math.Log(5) * 1, omega.item<float>(), 5);     // max over attended logits {1, −2}
        using var spread = PaintWeights.Std(0.5, sigma, logits, keyMask);
        Assert.Equal(0.5 * Math.Log(5) * Math.Sqrt(4.5), spread.item<float>(), 5); // sample std of {1, −2}
    }

    [Fact]
    public void ZeroWeightEqualsPlainGenerationBitForBit()
    {
        using var folder = new TinyModel.TempFolder();
        using var pipeline = TinyModel.Pipeline(folder.Path);
        using var service = TinyModel.Service(pipeline);
        var request = new GenerationRequest("red bricks above blue water", 5, 6, 2.0);
        // The scribble's top half is red; the legend ties red to "red bricks".
        var rgba = new byte[16 * 16 * 4];
        for (int p = 0; p < 8 * 16; p++) { rgba[4 * p] = 255; rgba[4 * p + 3] = 255; }
        GenerationRequest Paint(string phrase, double w) => request.WithCondition("paint",
            new ConditionerInput(Text: $$"""{"#ff0000": "{{phrase}}"}""", Image: new ConditionerImage(rgba, 16, 16), Weight: w));
        using var plain = service.Generate(request);
        using var zero = service.Generate(Paint("red bricks", 0));
        using var painted = service.Generate(Paint("red bricks", 2));
        Assert.True(zero.Images.equal(plain.Images).all().item<bool>());
        Assert.False(painted.Images.allclose(plain.Images, 1e-4, 1e-4));
        Assert.Equal(1, painted.Settings.Conditions["paint"]["regions"]);
        var problem = service.Check(Paint("green grass", 1));
        Assert.Equal(ProblemKind.Invalid, problem?.Kind);
        Assert.Contains("'green grass'", problem!.Message);
        // After a painted request the default processors are back: plain generation is unchanged.
        using var again = service.Generate(request);
        Assert.True(again.Images.equal(plain.Images).all().item<bool>());
    }

    [Fact]
    public void StyleChangesTheImageAndStrengthZeroIsNoStyle()
    {
        using var folder = new TinyModel.TempFolder();
        using var pipeline = TinyModel.Pipeline(folder.Path, clipImageDimension: 16);
        var sampler = new HeunSampler();
        var schedule = new KarrasSchedule();
        var request = new GenerationRequest("red bricks", 5, 6, 2.0);
        manual_seed(4);
        using var style = randn(1, 16);
        using var plain = pipeline.Generate(request, sampler, schedule);
        using var styled = pipeline.Generate(request, sampler, schedule, extra: new ConditioningInputs(ClipImage: style));
        using var none = pipeline.Generate(request, sampler, schedule, extra: new ConditioningInputs(ClipImage: style * 0));
        Assert.False(styled.allclose(plain, 1e-4, 1e-4));
        Assert.True(none.equal(plain).all().item<bool>());
        // This model has no image encoder: a style reference is refused with a message, before any work.
        using var service = TinyModel.Service(pipeline);
        var problem = service.Check(request.WithCondition("style", new ConditionerInput(Image: new ConditionerImage(new byte[16 * 16 * 4], 16, 16))));
        Assert.Equal(ProblemKind.Unsupported, problem?.Kind);
        Assert.Contains("no CLIP image encoder", problem!.Message);
    }

    [Fact]
    public void ScribbleColoursBecomeRegionsWithNotesForUnknownColoursAndResampling()
    {
        using var folder = new TinyModel.TempFolder();
        // 20×20: top half red, bottom-left quarter blue, bottom-right quarter green (not in the legend).
        using var image = full(3, 20, 20, -1f);
        image[0, ..10] = ones(10, 20);
        image[2, 10.., ..10] = ones(10, 10);
        image[1, 10.., 10..] = ones(10, 10);
        string png = Path.Combine(folder.Path, "scribble.png"), json = Path.Combine(folder.Path, "legend.json");
        ImageFiles.SavePng(image, png);
        File.WriteAllText(json, """{"#ff0000": "red bricks", "#0000FF": " blue water "}""");
        var legend = Scribble.ReadLegend(json);
        var notes = new List<string>();
        var regions = Scribble.ReadRegions(png, legend, 16, notes.Add);
        Assert.Equal(["red bricks", "blue water"], regions.Select(r => r.Phrase).OrderByDescending(p => p[0]).ToArray());
        Assert.Equal(0.5, regions.Single(r => r.Phrase == "red bricks").Mask.mean().item<float>(), 4);
        Assert.Equal(0.25, regions.Single(r => r.Phrase == "blue water").Mask.mean().item<float>(), 4);
        Assert.All(regions, r => Assert.Equal(new long[] { 16, 16 }, r.Mask.shape));
        Assert.Contains(notes, n => n.Contains("#00ff00") && n.Contains("ignored"));
        Assert.Contains(notes, n => n.Contains("20×20") && n.Contains("resampled"));
        File.WriteAllText(json, "{ not json");
        Assert.Contains("cannot be read", Assert.Throws<UserException>(() => Scribble.ReadLegend(json)).Message);
        File.WriteAllText(json, """{"red": "red bricks"}""");
        Assert.Contains("#rrggbb", Assert.Throws<UserException>(() => Scribble.ReadLegend(json)).Message);
        Assert.Contains("not a readable image", Assert.Throws<UserException>(() =>
            Scribble.ReadRegions(Path.Combine(folder.Path, "missing.png"), legend, 16, notes.Add)).Message);
        Assert.All(regions, r => Assert.Null(r.Weight)); // the request's w′

        // A phrase may carry its own w′; a bad weight or value is named.
        File.WriteAllText(json, """{"#ff0000": {"phrase": "red bricks", "weight": 0.8}, "#0000ff": "blue water"}""");
        var phrases = Scribble.ReadLegend(json, out var weights);
        var weighted = Scribble.ReadRegions(png, phrases, 16, _ => { }, weights);
        Assert.Equal(0.8, weighted.Single(r => r.Phrase == "red bricks").Weight);
        Assert.Null(weighted.Single(r => r.Phrase == "blue water").Weight);
        File.WriteAllText(json, """{"#ff0000": {"phrase": "red bricks", "weight": -1}}""");
        Assert.Contains("weight -1", Assert.Throws<UserException>(() => Scribble.ReadLegend(json, out _)).Message);
        File.WriteAllText(json, """{"#ff0000": 3}""");
        Assert.Contains("not a phrase", Assert.Throws<UserException>(() => Scribble.ReadLegend(json)).Message);

        // A scribble of another aspect ratio is stretched to the square, and the note says so.
        using var wide = full(3, 10, 30, -1f);
        wide[0, .., ..15] = ones(10, 15);
        string widePng = Path.Combine(folder.Path, "wide.png");
        ImageFiles.SavePng(wide, widePng);
        var wideNotes = new List<string>();
        var left = Scribble.ReadRegions(widePng, new Dictionary<uint, string> { [0xFF0000] = "red bricks" }, 16, wideNotes.Add).Single();
        Assert.Contains(wideNotes, n => n.Contains("30×10") && n.Contains("stretched"));
        using var leftHalf = left.Mask[.., ..8];
        Assert.Equal(1, leftHalf.mean().item<float>(), 4);
        Assert.Equal(0.5, left.Mask.mean().item<float>(), 4);
    }
}
