using EDiffI.Encoders;

namespace EDiffI.Plugins.TextHash;

/// <summary>Builds "word-hash" encoders from a model's specification.</summary>
public sealed class WordHashEncoderFactory : ITextEncoderFactory
{
    /// <inheritdoc />
    public string Kind => "word-hash";

    /// <inheritdoc />
    public bool IsStandIn => true;

    /// <inheritdoc />
    public ITextEncoder Create(TextEncoderSpec spec, string? modelFolder) =>
        new WordHashTextEncoder(new WordHashOptions { Dimension = spec.Dimension, MaxTokens = spec.MaxTokens, Seed = spec.Seed });

    /// <inheritdoc />
    /// <remarks>The spec is the whole encoder: tokens and the pooled vector (their mean) are Dimension wide.</remarks>
    public TextEncoderShape Describe(TextEncoderSpec spec, string? modelFolder)
    {
        ArgumentNullException.ThrowIfNull(spec);
        WordHashTextEncoder.Check(new WordHashOptions { Dimension = spec.Dimension, MaxTokens = spec.MaxTokens });
        return new TextEncoderShape(spec.Dimension, spec.MaxTokens, spec.Dimension);
    }
}
