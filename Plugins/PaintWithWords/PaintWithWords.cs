using EDiffI.Attention;
using EDiffI.Conditioning;
using EDiffI.Encoders;

namespace EDiffI.Plugins.PaintWithWords;

/// <summary>Paint-with-words: locates phrases in every text stream and swaps in <see cref="PaintWithWordsProcessor"/>.</summary>
/// <param name="weightFunction">ω(σ); null for the paper's <see cref="PaintWeights.Max"/>.</param>
public sealed class PaintWithWords(PaintWeightFunction? weightFunction = null, double outside = 0) : IPaintWithWords
{
    /// <inheritdoc />
    public ConditioningInputs Attach(ConditioningInputs conditioning, PaintRequest request, IReadOnlyDictionary<TextStream, ITextEncoder> encoders)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (encoders.Count == 0) throw new ArgumentException("Paint-with-words needs a model with a text encoder.");
        var tokens = request.Regions.Select(r => Locate(request.Prompt, r.Phrase, encoders)).ToList();
        var weights = request.Regions.Select(r => r.Weight ?? request.Weight).ToList();
        var context = new PaintContext(request.Regions.Select(r => r.Mask).ToList(), tokens, weights, weightFunction, outside);
        return conditioning.With(context);
    }

    /// <summary>The positions of <paramref name="phrase"/> in each stream; throws when no stream holds it.</summary>
    public static PhraseTokens Locate(string prompt, string phrase, IReadOnlyDictionary<TextStream, ITextEncoder> encoders)
    {
        IReadOnlyList<int> In(TextStream s) => encoders.TryGetValue(s, out var e) ? e.Tokenize(prompt).Locate(prompt, phrase) : [];
        var found = new PhraseTokens(phrase, In(TextStream.Clip), In(TextStream.T5));
        if (found.Clip.Count == 0 && found.T5.Count == 0)
            throw new ArgumentException(prompt.Contains(phrase.Trim(), StringComparison.OrdinalIgnoreCase)
                ? $"The phrase '{phrase}' of the legend lies past the text encoders' token limit; shorten the prompt."
                : $"The phrase '{phrase}' of the legend is not in the prompt \"{prompt}\".");
        return found;
    }

    /// <inheritdoc />
    public ICrossAttentionProcessor ProcessorFor(CrossAttentionLayer layer) => PaintWithWordsProcessor.Instance;
}
