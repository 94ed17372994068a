using EDiffI.Conditioning;
using static TorchSharp.torch;

namespace EDiffI.Encoders;

/// <summary>Which conditioning stream of the denoiser an encoder feeds.</summary>
public enum TextStream
{
    /// <summary>The T5 token stream (cross-attention only).</summary>
    T5,
    /// <summary>The CLIP text stream (tokens to cross-attention, pooled vector to the time embedding).</summary>
    Clip,
}

/// <summary>A frozen text encoder: prompts to per-token embeddings, a padding mask and a pooled vector.</summary>
public interface ITextEncoder : IDisposable
{
    /// <summary>The name configuration selects it by.</summary>
    string Name { get; }

    /// <summary>Width D of each token embedding.</summary>
    int Dimension { get; }

    /// <summary>Width of the pooled vector, or null when the encoder has none.</summary>
    int? PooledDimension { get; }

    /// <summary>Most tokens per prompt; longer prompts are truncated.</summary>
    int MaxTokens { get; }

    /// <summary>
    /// Encodes a batch of prompts onto <paramref name="device"/> (float32). Prompts longer than
    /// <see cref="MaxTokens"/> are truncated silently; <see cref="Tokenize"/> tells how much was dropped.
    /// </summary>
    TextEmbedding Encode(IReadOnlyList<string> prompts, Device device);

    /// <summary>
    /// The tokens of <paramref name="prompt"/> exactly as <see cref="Encode"/> places them: element i
    /// is token position i of the embedding (special tokens included), after truncation to
    /// <see cref="MaxTokens"/>; <see cref="PromptTokenization.Dropped"/> counts what truncation removed.
    /// Paint-with-words finds a phrase's positions from the character spans.
    /// </summary>
    PromptTokenization Tokenize(string prompt);

    /// <summary>Moves the encoder's weights to <paramref name="device"/> (and <paramref name="dtype"/>); weightless encoders ignore it.</summary>
    void MoveTo(Device device, ScalarType? dtype = null) { }
}

/// <summary>One token of a prompt as an encoder sees it.</summary>
/// <param name="Id">Vocabulary id.</param>
/// <param name="Text">The token's text in the encoder's vocabulary.</param>
/// <param name="Start">First character of the prompt the token covers, or −1 for a special token (start, end, padding).</param>
/// <param name="Length">Number of prompt characters it covers (0 for a special token).</param>
public readonly record struct PromptToken(int Id, string Text, int Start, int Length)
{
    /// <summary>A token that covers no prompt text (start or end of sequence).</summary>
    public bool IsSpecial => Start < 0;
}

/// <summary>A prompt's tokens as an encoder places them, and how many truncation dropped.</summary>
/// <param name="Tokens">Tokens by embedding position.</param>
/// <param name="Dropped">Tokens of the prompt that did not fit into <see cref="ITextEncoder.MaxTokens"/>.</param>
public sealed record PromptTokenization(IReadOnlyList<PromptToken> Tokens, int Dropped)
{
    /// <summary>
    /// Embedding positions of the tokens that cover <paramref name="phrase"/> inside <paramref name="prompt"/>
    /// (case-insensitive, every occurrence; a phrase split into several tokens gives all of them).
    /// Empty when the phrase is not in the prompt or was truncated away.
    /// </summary>
    public IReadOnlyList<int> Locate(string prompt, string phrase)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        ArgumentException.ThrowIfNullOrWhiteSpace(phrase);
        var positions = new SortedSet<int>();
        string needle = phrase.Trim();
        for (int at = prompt.IndexOf(needle, StringComparison.OrdinalIgnoreCase); at >= 0;
             at = prompt.IndexOf(needle, at + 1, StringComparison.OrdinalIgnoreCase))
        {
            int end = at + needle.Length;
            for (int i = 0; i < Tokens.Count; i++)
            {
                var t = Tokens[i];
                if (!t.IsSpecial && t.Length > 0 && t.Start < end && t.Start + t.Length > at) positions.Add(i);
            }
        }
        return positions.ToList();
    }
}

/// <summary>A frozen image encoder (CLIP's vision tower in eDiff-I): images to one pooled embedding each.</summary>
public interface IImageEncoder : IDisposable
{
    /// <summary>The name configuration selects it by.</summary>
    string Name { get; }

    /// <summary>Width of the pooled embedding.</summary>
    int Dimension { get; }

    /// <summary>
    /// Encodes RGB images in [−1, 1], [B, 3, H, W] of any size, to [B, Dimension] (float32) on the
    /// images' device; the encoder applies its own preprocessing (CLIP: resize, centre crop, normalise).
    /// </summary>
    Tensor Encode(Tensor images);

    /// <summary>Moves the encoder's weights to <paramref name="device"/> (and <paramref name="dtype"/>).</summary>
    void MoveTo(Device device, ScalarType? dtype = null);
}
