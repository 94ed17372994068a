namespace EDiffI.Encoders;

/// <summary>Which text encoder feeds a stream, and how to build it (stored in model.json).</summary>
public sealed record TextEncoderSpec
{
    /// <summary>Encoder kind, provided by a plugin ("word-hash"; the T5 and CLIP plugins add theirs).</summary>
    public string Kind { get; init; } = "word-hash";
    /// <summary>Width of each token embedding.</summary>
    public int Dimension { get; init; } = 64;
    /// <summary>Most tokens per prompt.</summary>
    public int MaxTokens { get; init; } = 32;
    /// <summary>Seed of a weightless encoder's table.</summary>
    public long Seed { get; init; } = 1;
    /// <summary>Folder of a checkpoint-based encoder, relative to the model folder; null for weightless ones.</summary>
    public string? Path { get; init; }
}

/// <summary>Builds text encoders of one kind; plugins register one per kind they provide.</summary>
public interface ITextEncoderFactory
{
    /// <summary>The kind it builds.</summary>
    string Kind { get; }

    /// <summary>Builds the encoder a spec describes; <paramref name="modelFolder"/> resolves relative paths.</summary>
    ITextEncoder Create(TextEncoderSpec spec, string? modelFolder);
}

/// <summary>Which image encoder feeds the CLIP image stream, and where its weights are (stored in model.json).</summary>
public sealed record ImageEncoderSpec
{
    /// <summary>Encoder kind, provided by a plugin (the CLIP plugin provides "clip-vision").</summary>
    public string Kind { get; init; } = "clip-vision";
    /// <summary>Folder of the checkpoint, relative to the model folder.</summary>
    public string? Path { get; init; }
}

/// <summary>Builds image encoders of one kind; plugins register one per kind they provide.</summary>
public interface IImageEncoderFactory
{
    /// <summary>The kind it builds.</summary>
    string Kind { get; }

    /// <summary>Builds the encoder a spec describes; <paramref name="modelFolder"/> resolves relative paths.</summary>
    IImageEncoder Create(ImageEncoderSpec spec, string? modelFolder);
}
