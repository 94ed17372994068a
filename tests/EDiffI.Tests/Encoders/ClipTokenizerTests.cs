using EDiffI.Plugins.Clip;
using static TorchSharp.torch;

namespace EDiffI.Tests.Encoders;

/// <summary>The CLIP tokenizer against Hugging Face's CLIPTokenizer (tests/Fixtures/Encoders/reference/clip.json).</summary>
public class ClipTokenizerTests
{
    private static readonly ClipTokenizer Tokenizer = ClipTokenizer.FromFolder(ClipFixtures.ModelFolder);

    [Fact]
    public void IdsAndPiecesEqualTheReference()
    {
        var reference = ClipFixtures.Expected;
        for (int i = 0; i < reference.Prompts.Length; i++)
        {
            var tokens = Tokenizer.Tokenize(reference.Prompts[i], 77);
            Assert.Equal(reference.Ids(i), tokens.Tokens.Select(t => t.Id).ToArray());
            Assert.Equal(reference.Pieces(i), tokens.Tokens.Select(t => t.Text).ToArray());
            Assert.Equal(0, tokens.Dropped);
        }
    }

    [Fact]
    public void SpansEqualTheReferenceOffsets()
    {
        var reference = ClipFixtures.Expected;
        for (int i = 0; i < reference.Prompts.Length; i++)
        {
            var tokens = Tokenizer.Tokenize(reference.Prompts[i], 77).Tokens;
            var offsets = reference.Offsets(i);
            Assert.Equal(offsets.Length, tokens.Count);
            for (int j = 0; j < tokens.Count; j++)
            {
                // Hugging Face gives special tokens (0, 0); the contract gives them start −1.
                if (j == 0 || j == tokens.Count - 1)
                {
                    Assert.True(tokens[j].IsSpecial);
                    Assert.Equal((0, 0), offsets[j]);
                }
                else Assert.Equal(offsets[j], (tokens[j].Start, tokens[j].Start + tokens[j].Length));
            }
        }
    }

    [Fact]
    public void BatchIdsAndMaskEqualTheReferencePadding()
    {
        var reference = ClipFixtures.Expected;
        var (ids, mask) = Tokenizer.EncodeBatch(reference.Prompts, 77);
        Assert.Equal(reference["input_ids"].data<long>().ToArray(), ids);
        Assert.Equal(reference["attention_mask"].data<long>().Select(m => m != 0).ToArray(), mask);
    }

    [Fact]
    public void SpansPointIntoTheOriginalPromptAcrossCollapsedWhitespaceAndCase()
    {
        const string prompt = "  Red\tBRICKS   with white  mortar ";
        var tokens = Tokenizer.Tokenize(prompt, 77);
        var words = tokens.Tokens.Where(t => !t.IsSpecial).Select(t => prompt.Substring(t.Start, t.Length)).ToArray();
        Assert.Equal(["Red", "BRICKS", "with", "white", "mortar"], words);
        Assert.Equal([2], tokens.Locate(prompt, "bricks"));
        Assert.Equal([5], tokens.Locate(prompt, "mortar"));
    }

    [Fact]
    public void TruncationKeepsTheEndTokenLastAndCountsWhatItDropped()
    {
        string prompt = string.Join(' ', Enumerable.Repeat("red bricks", 50));
        int content = Tokenizer.Split(prompt).Count;
        Assert.Equal(100, content);
        var tokens = Tokenizer.Tokenize(prompt, 77);
        Assert.Equal(77, tokens.Tokens.Count);
        Assert.Equal(content - 75, tokens.Dropped);
        Assert.Equal(Tokenizer.BosId, tokens.Tokens[0].Id);
        Assert.Equal(Tokenizer.EosId, tokens.Tokens[^1].Id);
        var (ids, mask) = Tokenizer.EncodeBatch([prompt], 77);
        Assert.Equal(Tokenizer.EosId, ids[76]);
        Assert.All(mask, Assert.True);
    }

    [Fact]
    public void MissingTokenizerFilesAreNamed()
    {
        using var folder = new TinyModel.TempFolder();
        var e = Assert.Throws<FileNotFoundException>(() => ClipTokenizer.FromFolder(folder.Path));
        Assert.Contains("vocab.json", e.Message, StringComparison.Ordinal);
    }
}
