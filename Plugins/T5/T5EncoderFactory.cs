using EDiffI.Encoders;

namespace EDiffI.Plugins.T5;

/// <summary>Builds "t5" encoders: <see cref="TextEncoderSpec.Path"/> is the checkpoint folder, relative to the model folder.</summary>
public sealed class T5EncoderFactory : ITextEncoderFactory
{
    /// <inheritdoc />
    public string Kind => "t5";

    /// <inheritdoc />
    public ITextEncoder Create(TextEncoderSpec spec, string? modelFolder)
    {
        ArgumentNullException.ThrowIfNull(spec);
        if (string.IsNullOrWhiteSpace(spec.Path))
            throw new ArgumentException("A \"t5\" text encoder needs Path: the checkpoint folder (config.json, model.safetensors, spiece.model), relative to the model folder.");
        string folder = Path.IsPathRooted(spec.Path) || modelFolder is null ? spec.Path : Path.Combine(modelFolder, spec.Path);
        if (spec.MaxTokens < 2) throw new ArgumentException($"A \"t5\" text encoder needs MaxTokens ≥ 2 (room for </s>), not {spec.MaxTokens}.");
        var encoder = new T5TextEncoder(folder, spec.MaxTokens);
        if (encoder.Dimension != spec.Dimension)
        {
            encoder.Dispose();
            throw new InvalidDataException($"The T5 checkpoint '{folder}' has d_model {encoder.Dimension}, but the model's specification says Dimension {spec.Dimension}.");
        }
        return encoder;
    }
}
