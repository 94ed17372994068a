using EDiffI.Encoders;

namespace EDiffI.Plugins.TextHash;

/// <summary>Builds "word-hash" encoders from a model's specification.</summary>
public sealed class WordHashEncoderFactory : ITextEncoderFactory
{
    /// <inheritdoc />
    public string Kind => "word-hash";

    /// <inheritdoc />
    public ITextEncoder Create(TextEncoderSpec spec, string? modelFolder) =>
        new WordHashTextEncoder(new WordHashOptions { Dimension = spec.Dimension, MaxTokens = spec.MaxTokens, Seed = spec.Seed });
}
