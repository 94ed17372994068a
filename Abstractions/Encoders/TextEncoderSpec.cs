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

/// <summary>What a text encoder produces, known from its specification and configuration alone.</summary>
/// <param name="Dimension">Width D of each token embedding (<see cref="ITextEncoder.Dimension"/>).</param>
/// <param name="MaxTokens">Most tokens per prompt (<see cref="ITextEncoder.MaxTokens"/>).</param>
/// <param name="PooledDimension">Width of the pooled vector, or null when there is none (<see cref="ITextEncoder.PooledDimension"/>).</param>
public sealed record TextEncoderShape(int Dimension, int MaxTokens, int? PooledDimension);

/// <summary>Builds text encoders of one kind; plugins register one per kind they provide.</summary>
public interface ITextEncoderFactory
{
    /// <summary>The kind it builds.</summary>
    string Kind { get; }

    /// <summary>Builds the encoder a spec describes; <paramref name="modelFolder"/> resolves relative paths.</summary>
    ITextEncoder Create(TextEncoderSpec spec, string? modelFolder);

    /// <summary>
    /// The widths and token count of the encoder <see cref="Create"/> would build, without loading its weights
    /// (a network is shaped for its encoders before any is built). This default builds the encoder and asks it;
    /// kinds with a configuration file override it to read only that.
    /// </summary>
    /// <exception cref="ArgumentException">When the spec is incomplete.</exception>
    /// <exception cref="InvalidDataException">When the configuration is unreadable or disagrees with the spec.</exception>
    TextEncoderShape Describe(TextEncoderSpec spec, string? modelFolder)
    {
        using var encoder = Create(spec, modelFolder);
        return new TextEncoderShape(encoder.Dimension, encoder.MaxTokens, encoder.PooledDimension);
    }

    /// <summary>
    /// The stream a checkpoint folder of this kind feeds when a user names one for that stream (train's and
    /// encode's <c>--t5</c> and <c>--clip</c> take the kind that claims their stream); null for a kind chosen only by name.
    /// </summary>
    TextStream? CheckpointStream => null;

    /// <summary>
    /// Whether this kind needs no checkpoint (its spec's Dimension, MaxTokens and Seed define it), so training may
    /// use it as the stand-in of a stream it is given no checkpoint for.
    /// </summary>
    bool IsStandIn => false;

    /// <summary>
    /// The spec of an encoder of this kind reading the checkpoint folder <paramref name="folder"/> (an absolute
    /// path), its width and token count filled in from the folder's configuration.
    /// </summary>
    /// <exception cref="ArgumentException">When this kind reads no checkpoint folders.</exception>
    /// <exception cref="FileNotFoundException">When the folder lacks the configuration.</exception>
    /// <exception cref="DirectoryNotFoundException">When the folder does not exist.</exception>
    /// <exception cref="InvalidDataException">When the configuration is unreadable or describes another kind.</exception>
    TextEncoderSpec ForCheckpoint(string folder) => throw new ArgumentException($"The text encoder '{Kind}' reads no checkpoint folders.");
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

    /// <summary>
    /// The embedding width (<see cref="IImageEncoder.Dimension"/>) of the encoder <see cref="Create"/> would build,
    /// without loading its weights. This default builds the encoder and asks it; kinds with a configuration file
    /// override it to read only that.
    /// </summary>
    /// <exception cref="ArgumentException">When the spec is incomplete.</exception>
    /// <exception cref="InvalidDataException">When the configuration is unreadable.</exception>
    int Describe(ImageEncoderSpec spec, string? modelFolder)
    {
        using var encoder = Create(spec, modelFolder);
        return encoder.Dimension;
    }

    /// <summary>
    /// The text encoder kind whose checkpoint folders hold this image encoder too (CLIP's vision tower sits beside its
    /// text tower): given such a folder for a text stream, training and encoding add this image stream from it. Null: none.
    /// </summary>
    string? CompanionOf => null;
}
