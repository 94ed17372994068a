using EDiffI.Encoders;

namespace EDiffI.Plugins.Clip;

/// <summary>Builds "clip-vision" image encoders from a Hugging Face CLIP folder.</summary>
public sealed class ClipImageEncoderFactory : IImageEncoderFactory
{
    /// <inheritdoc />
    public string Kind => "clip-vision";

    /// <inheritdoc />
    public IImageEncoder Create(ImageEncoderSpec spec, string? modelFolder) =>
        ClipImageEncoder.Load(SpecFolder.Resolve(spec.Path, modelFolder, Kind));
}
