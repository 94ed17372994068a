using EDiffI.Encoders;

namespace EDiffI.Plugins.Clip;

/// <summary>Builds "clip-vision" image encoders from a Hugging Face CLIP folder.</summary>
public sealed class ClipImageEncoderFactory : IImageEncoderFactory
{
    /// <inheritdoc />
    public string Kind => "clip-vision";

    /// <inheritdoc />
    public string? CompanionOf => "clip";

    /// <inheritdoc />
    public IImageEncoder Create(ImageEncoderSpec spec, string? modelFolder) =>
        ClipImageEncoder.Load(SpecFolder.Resolve(spec.Path, modelFolder, Kind));

    /// <inheritdoc />
    /// <remarks>Reads only config.json: the embedding is the projection's width.</remarks>
    public int Describe(ImageEncoderSpec spec, string? modelFolder) =>
        SpecFolder.Config(SpecFolder.Resolve(spec.Path, modelFolder, Kind)).ProjectionDim;
}
