using EDiffI.Encoders;
using Xunit;
using static TorchSharp.torch;

namespace EDiffI.Conformance;

/// <summary>What every <see cref="ITextEncoder"/> must do.</summary>
public abstract class TextEncoderConformance
{
    /// <summary>The encoder under test.</summary>
    protected abstract ITextEncoder CreateEncoder();

    /// <summary>Tokens [B, L, D] with L ≤ MaxTokens, a boolean mask [B, L] with a real token per non-empty prompt, pooled [B, P].</summary>
    [Fact]
    public void ShapesFollowTheContract()
    {
        var e = CreateEncoder();
        var t = e.Encode(["red bricks with white mortar", "a blue ring"], CPU);
        Assert.Equal(3, t.Tokens.dim());
        Assert.Equal(2, t.Tokens.shape[0]);
        Assert.InRange(t.Tokens.shape[1], 1, e.MaxTokens);
        Assert.Equal(e.Dimension, t.Tokens.shape[2]);
        Assert.Equal(ScalarType.Bool, t.Mask.dtype);
        Assert.Equal(new[] { 2L, t.Tokens.shape[1] }, t.Mask.shape);
        Assert.True(t.Mask.any(1).all().item<bool>());
        if (e.PooledDimension is int p) Assert.Equal(new[] { 2L, p }, t.Pooled!.shape);
        else Assert.Null(t.Pooled);
        Assert.True(t.Tokens.isfinite().all().item<bool>());
    }

    /// <summary>The same prompt always encodes the same, alone or in a batch.</summary>
    [Fact]
    public void IsDeterministicAndBatchIndependent()
    {
        var e = CreateEncoder();
        var a = e.Encode(["three yellow dots"], CPU);
        var b = e.Encode(["a long prompt about something else entirely", "three yellow dots"], CPU);
        long l = a.Length;
        Assert.True(a.Tokens[0].narrow(0, 0, l).allclose(b.Tokens[1].narrow(0, 0, l), 1e-5, 1e-6));
        Assert.True(a.Mask[0].equal(b.Mask[1].narrow(0, 0, l)).all().item<bool>());
    }

    /// <summary>A prompt longer than MaxTokens is truncated, not refused.</summary>
    [Fact]
    public void TruncatesLongPrompts()
    {
        var e = CreateEncoder();
        var t = e.Encode([string.Join(' ', Enumerable.Repeat("brick", e.MaxTokens * 3))], CPU);
        Assert.True(t.Length <= e.MaxTokens);
    }

    /// <summary>Tokenize agrees with Encode: one token per real position, spans inside the prompt, truncation counted.</summary>
    [Fact]
    public void TokenizeMatchesEncode()
    {
        var e = CreateEncoder();
        const string prompt = "red bricks with white mortar";
        var tokens = e.Tokenize(prompt);
        var t = e.Encode([prompt], CPU);
        Assert.Equal(0, tokens.Dropped);
        Assert.Equal(t.Mask[0].sum().item<long>(), tokens.Tokens.Count);
        foreach (var token in tokens.Tokens.Where(k => !k.IsSpecial))
            Assert.InRange(token.Start + token.Length, 1, prompt.Length);
        var positions = tokens.Locate(prompt, "white mortar");
        Assert.NotEmpty(positions);
        Assert.All(positions, p => Assert.InRange(p, 0, tokens.Tokens.Count - 1));
        Assert.Empty(tokens.Locate(prompt, "blue water"));
        var longPrompt = string.Join(' ', Enumerable.Repeat("brick", e.MaxTokens * 3));
        var truncated = e.Tokenize(longPrompt);
        Assert.True(truncated.Dropped > 0);
        Assert.True(truncated.Tokens.Count <= e.MaxTokens);
    }
}
