using EDiffI.Encoders;

namespace EDiffI.Plugins.T5;

/// <summary>Builds "t5" encoders: <see cref="TextEncoderSpec.Path"/> is the checkpoint folder, relative to the model folder.</summary>
public sealed class T5EncoderFactory : ITextEncoderFactory
{
    /// <summary>Tokens per prompt of a spec made for a checkpoint folder (T5's relative positions set no limit of their own).</summary>
    public const int DefaultMaxTokens = 128;

    /// <inheritdoc />
    public string Kind => "t5";

    /// <inheritdoc />
    public TextStream? CheckpointStream => TextStream.T5;

    /// <inheritdoc />
    public ITextEncoder Create(TextEncoderSpec spec, string? modelFolder)
    {
        string folder = Checked(spec, modelFolder);
        var encoder = new T5TextEncoder(folder, spec.MaxTokens);
        if (encoder.Dimension != spec.Dimension)
        {
            encoder.Dispose();
            throw WidthMismatch(folder, encoder.Dimension, spec.Dimension);
        }
        return encoder;
    }

    /// <inheritdoc />
    /// <remarks>Reads only <c>config.json</c>: the width is its <c>d_model</c>, which must agree with the spec's Dimension.</remarks>
    public TextEncoderShape Describe(TextEncoderSpec spec, string? modelFolder)
    {
        string folder = Checked(spec, modelFolder);
        int width = ReadWidth(folder);
        if (width != spec.Dimension) throw WidthMismatch(folder, width, spec.Dimension);
        return new TextEncoderShape(width, spec.MaxTokens, null);
    }

    /// <inheritdoc />
    public TextEncoderSpec ForCheckpoint(string folder) =>
        new() { Kind = Kind, MaxTokens = DefaultMaxTokens, Path = folder, Dimension = ReadWidth(folder) };

    // The checkpoint folder a spec names, after the checks Create and Describe share.
    private static string Checked(TextEncoderSpec spec, string? modelFolder)
    {
        ArgumentNullException.ThrowIfNull(spec);
        if (string.IsNullOrWhiteSpace(spec.Path))
            throw new ArgumentException("A \"t5\" text encoder needs Path: the checkpoint folder (config.json, model.safetensors, spiece.model), relative to the model folder.");
        if (spec.MaxTokens < 2) throw new ArgumentException($"A \"t5\" text encoder needs MaxTokens ≥ 2 (room for </s>), not {spec.MaxTokens}.");
        return Path.IsPathRooted(spec.Path) || modelFolder is null ? spec.Path : Path.Combine(modelFolder, spec.Path);
    }

    private static int ReadWidth(string folder)
    {
        if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"The T5 checkpoint folder '{folder}' does not exist.");
        return T5Config.Read(folder).DModel;
    }

    private static InvalidDataException WidthMismatch(string folder, int width, int specified) =>
        new($"The T5 checkpoint '{folder}' has d_model {width}, but the model's specification says Dimension {specified}.");
}
