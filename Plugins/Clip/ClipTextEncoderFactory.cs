using EDiffI.Encoders;

namespace EDiffI.Plugins.Clip;

/// <summary>Builds "clip" text encoders from a Hugging Face CLIP folder.</summary>
public sealed class ClipTextEncoderFactory : ITextEncoderFactory
{
    /// <inheritdoc />
    public string Kind => "clip";

    /// <inheritdoc />
    public TextStream? CheckpointStream => TextStream.Clip;

    /// <inheritdoc />
    /// <remarks>Width and token count come from the checkpoint's config.json; the spec's Dimension and MaxTokens are not used.</remarks>
    public ITextEncoder Create(TextEncoderSpec spec, string? modelFolder) =>
        ClipTextEncoder.Load(SpecFolder.Resolve(spec.Path, modelFolder, Kind));

    /// <inheritdoc />
    /// <remarks>Reads only config.json: the text tower's hidden size and positions, and the projection width.</remarks>
    public TextEncoderShape Describe(TextEncoderSpec spec, string? modelFolder) =>
        Shape(SpecFolder.Config(SpecFolder.Resolve(spec.Path, modelFolder, Kind)));

    /// <inheritdoc />
    public TextEncoderSpec ForCheckpoint(string folder)
    {
        var shape = Shape(SpecFolder.Config(folder));
        return new TextEncoderSpec { Kind = Kind, Path = folder, Dimension = shape.Dimension, MaxTokens = shape.MaxTokens };
    }

    private static TextEncoderShape Shape(ClipConfig config) => new(config.Text.HiddenSize, config.Text.MaxPositions, config.ProjectionDim);
}
