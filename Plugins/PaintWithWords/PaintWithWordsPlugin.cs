using EDiffI.Attention;
using EDiffI.Conditioning;
using EDiffI.Encoders;
using EDiffI.Extensibility;
using EDiffI.Plugins.PaintWithWords;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

[assembly: EDiffIPlugin("PaintWithWords", "1.0.0", PluginContract.Version, typeof(PaintWithWordsPlugin))]

namespace EDiffI.Plugins.PaintWithWords;

/// <summary>Paint-with-words: locates phrases in every text stream and swaps in <see cref="PaintWithWordsProcessor"/>.</summary>
/// <param name="weightFunction">ω(σ); null for the paper's <see cref="PaintWeights.Max"/>.</param>
public sealed class PaintWithWords(PaintWeightFunction? weightFunction = null) : IPaintWithWords
{
    /// <inheritdoc />
    public ConditioningInputs Attach(ConditioningInputs conditioning, PaintRequest request, IReadOnlyDictionary<TextStream, ITextEncoder> encoders)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (encoders.Count == 0) throw new ArgumentException("Paint-with-words needs a model with a text encoder.");
        var tokens = request.Regions.Select(r => Locate(request.Prompt, r.Phrase, encoders)).ToList();
        var weights = request.Regions.Select(r => r.Weight ?? request.Weight).ToList();
        var context = new PaintContext(request.Regions.Select(r => r.Mask).ToList(), tokens, weights, weightFunction);
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

/// <summary>The plugin's registration entry point.</summary>
public sealed class PaintWithWordsPlugin : IPluginRegistration
{
    /// <inheritdoc />
    public void Register(IServiceCollection services, IConfiguration configuration) =>
        services.AddPaintWithWords(configuration["PaintWithWords:Weighting"]);
}

/// <summary>Service registration of paint-with-words.</summary>
public static class PaintWithWordsServiceCollectionExtensions
{
    /// <summary>Adds paint-with-words; <paramref name="weighting"/> is "max" (the paper's, default) or "std".</summary>
    public static IServiceCollection AddPaintWithWords(this IServiceCollection services, string? weighting = null)
    {
        PaintWeightFunction function = (weighting ?? "max").ToLowerInvariant() switch
        {
            "max" => PaintWeights.Max,
            "std" => PaintWeights.Std,
            _ => throw new ArgumentException($"Unknown PaintWithWords:Weighting '{weighting}' (known: max, std)."),
        };
        services.TryAddSingleton<IPaintWithWords>(new PaintWithWords(function));
        return services;
    }
}
