using EDiffI.Encoders;

namespace EDiffI.Plugins.Clip;

/// <summary>Builds "clip" text encoders from a Hugging Face CLIP folder.</summary>
public sealed class ClipTextEncoderFactory : ITextEncoderFactory
{
    /// <inheritdoc />
    public string Kind => "clip";

    /// <inheritdoc />
    /// <remarks>Width and token count come from the checkpoint's config.json; the spec's Dimension and MaxTokens are not used.</remarks>
    public ITextEncoder Create(TextEncoderSpec spec, string? modelFolder) =>
        ClipTextEncoder.Load(SpecFolder.Resolve(spec.Path, modelFolder, Kind));
}
