using System.Text;
using EDiffI.Conditioning;
using EDiffI.Encoders;
using static TorchSharp.torch;

namespace EDiffI.Plugins.TextHash;

/// <summary>Options of <see cref="WordHashTextEncoder"/>.</summary>
public sealed record WordHashOptions
{
    /// <summary>Width of each token embedding (and of the pooled vector).</summary>
    public int Dimension { get; init; } = 64;
    /// <summary>Most words per prompt.</summary>
    public int MaxTokens { get; init; } = 32;
    /// <summary>Number of hash buckets (the vocabulary).</summary>
    public int Buckets { get; init; } = 8192;
    /// <summary>Seed of the fixed random embedding table.</summary>
    public long Seed { get; init; } = 1;
}

/// <summary>
/// A frozen text encoder with no learned weights: each lower-cased word is hashed (FNV-1a) to a
/// bucket of a fixed random Gaussian table, a sinusoidal position code is added so word order
/// matters, and the pooled vector is the mean of the word vectors. Deterministic from its options.
/// It stands in for T5 and CLIP in tests and small models until the real encoders are plugged in.
/// </summary>
public sealed class WordHashTextEncoder : ITextEncoder, IDisposable
{
    private readonly WordHashOptions _options;
    private readonly Tensor _table;
    private readonly Tensor _positions;

    /// <summary>Builds the encoder's table from <paramref name="options"/>.</summary>
    public WordHashTextEncoder(WordHashOptions options)
    {
        Check(options);
        _options = options;
        using var generator = new Generator((ulong)options.Seed);
        _table = randn(options.Buckets, options.Dimension, generator: generator).DetachFromDisposeScope();
        var pos = arange(options.MaxTokens, dtype: ScalarType.Float32).unsqueeze(1);
        var freqs = pow(1.0 / 100, arange(options.Dimension / 2, dtype: ScalarType.Float32) / (options.Dimension / 2)).unsqueeze(0);
        var code = cat([(pos * freqs).sin(), (pos * freqs).cos()], 1);
        if (code.shape[1] < options.Dimension) code = nn.functional.pad(code, [0, 1]);
        _positions = (code * 0.5).DetachFromDisposeScope();
    }

    /// <summary>Throws when <paramref name="options"/> describe no encoder.</summary>
    /// <exception cref="ArgumentException">When a size is too small.</exception>
    public static void Check(WordHashOptions options)
    {
        if (options.Dimension < 2 || options.MaxTokens < 1 || options.Buckets < 1)
            throw new ArgumentException("word-hash encoder needs dimension ≥ 2, max tokens ≥ 1 and buckets ≥ 1");
    }

    /// <inheritdoc />
    public string Name => "word-hash";
    /// <inheritdoc />
    public int Dimension => _options.Dimension;
    /// <inheritdoc />
    public int? PooledDimension => _options.Dimension;
    /// <inheritdoc />
    public int MaxTokens => _options.MaxTokens;

    /// <summary>The words of a prompt as the encoder sees them (lower-cased runs of letters and digits).</summary>
    public static IReadOnlyList<string> Words(string prompt) => WordSpans(prompt).Select(w => w.Word).ToList();

    /// <summary>The words of a prompt with the character span each covers.</summary>
    public static IReadOnlyList<(string Word, int Start, int Length)> WordSpans(string prompt)
    {
        var words = new List<(string, int, int)>();
        int start = -1;
        for (int i = 0; i <= prompt.Length; i++)
        {
            bool letter = i < prompt.Length && char.IsLetterOrDigit(prompt[i]);
            if (letter && start < 0) start = i;
            else if (!letter && start >= 0)
            {
                words.Add((prompt[start..i].ToLowerInvariant(), start, i - start));
                start = -1;
            }
        }
        return words;
    }

    /// <inheritdoc />
    public PromptTokenization Tokenize(string prompt)
    {
        var spans = WordSpans(prompt);
        var tokens = spans.Take(_options.MaxTokens).Select(w => new PromptToken(Bucket(w.Word), w.Word, w.Start, w.Length)).ToList();
        return new PromptTokenization(tokens, spans.Count - tokens.Count);
    }

    /// <summary>Bucket of a word: 32-bit FNV-1a of its UTF-8 bytes, modulo the bucket count.</summary>
    public int Bucket(string word)
    {
        uint hash = 2166136261;
        foreach (byte b in Encoding.UTF8.GetBytes(word)) hash = (hash ^ b) * 16777619;
        return (int)(hash % (uint)_options.Buckets);
    }

    /// <inheritdoc />
    public TextEmbedding Encode(IReadOnlyList<string> prompts, Device device)
    {
        using var scope = NewDisposeScope();
        int b = prompts.Count, l = _options.MaxTokens;
        var ids = new long[b * l];
        var mask = new bool[b * l];
        for (int i = 0; i < b; i++)
        {
            var words = Words(prompts[i]);
            for (int j = 0; j < Math.Min(words.Count, l); j++)
            {
                ids[i * l + j] = Bucket(words[j]);
                mask[i * l + j] = true;
            }
        }
        var maskT = tensor(mask, [b, l]);
        var words3 = _table.index_select(0, tensor(ids)).view(b, l, -1) * maskT.unsqueeze(2).to(ScalarType.Float32);
        var tokens = (words3 + _positions.unsqueeze(0) * maskT.unsqueeze(2).to(ScalarType.Float32));
        var count = maskT.sum(1, keepdim: true, type: ScalarType.Float32).clamp_min(1);
        var pooled = words3.sum(1) / count;
        return new TextEmbedding(tokens.to(device).MoveToOuterDisposeScope(), maskT.to(device).MoveToOuterDisposeScope(),
            pooled.to(device).MoveToOuterDisposeScope());
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _table.Dispose();
        _positions.Dispose();
    }
}
