using EDiffI.Conditioning;
using EDiffI.Encoders;
using TorchSharp;
using static TorchSharp.torch;

namespace EDiffI.Plugins.Clip;

/// <summary>
/// CLIP's text tower as an <see cref="ITextEncoder"/>: tokens are the last hidden state (all
/// <see cref="MaxTokens"/> positions, padding masked), the mask marks the real tokens (start and end
/// included), and the pooled vector is the projected text embedding, in the space image embeddings share.
/// </summary>
public sealed class ClipTextEncoder : ITextEncoder
{
    private readonly ClipModel _model;
    private readonly ClipTokenizer _tokenizer;
    private Device _device = CPU;

    /// <summary>Loads the text tower and tokenizer of a Hugging Face CLIP folder.</summary>
    public static ClipTextEncoder Load(string folder)
    {
        var tokenizer = ClipTokenizer.FromFolder(folder);
        var model = ClipCheckpoint.Load(folder, ClipTowers.Text);
        if (tokenizer.VocabularySize > model.Config.Text.VocabSize)
        {
            model.Dispose();
            throw new InvalidDataException($"'{folder}': vocab.json has {tokenizer.VocabularySize} entries but the text tower only {model.Config.Text.VocabSize}.");
        }
        return new ClipTextEncoder(model, tokenizer);
    }

    /// <summary>Wraps a model with a text tower and its tokenizer (the encoder owns both).</summary>
    public ClipTextEncoder(ClipModel model, ClipTokenizer tokenizer)
    {
        if (!model.Towers.HasFlag(ClipTowers.Text)) throw new ArgumentException("the model has no text tower", nameof(model));
        _model = model;
        _tokenizer = tokenizer;
        _model.eval();
    }

    /// <inheritdoc />
    public string Name => "clip";
    /// <inheritdoc />
    public int Dimension => _model.Config.Text.HiddenSize;
    /// <inheritdoc />
    public int? PooledDimension => _model.Config.ProjectionDim;
    /// <inheritdoc />
    public int MaxTokens => _model.Config.Text.MaxPositions;
    /// <summary>The tokenizer.</summary>
    public ClipTokenizer Tokenizer => _tokenizer;

    /// <inheritdoc />
    public PromptTokenization Tokenize(string prompt) => _tokenizer.Tokenize(prompt, MaxTokens);

    /// <inheritdoc />
    public TextEmbedding Encode(IReadOnlyList<string> prompts, Device device)
    {
        ArgumentNullException.ThrowIfNull(prompts);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        int b = prompts.Count, l = MaxTokens;
        var (ids, mask) = _tokenizer.EncodeBatch(prompts, l);
        var idsT = tensor(ids, [b, l], device: _device);
        var maskT = tensor(mask, [b, l], device: _device);
        var (hidden, _, embeds) = _model.EncodeText(idsT, maskT);
        return new TextEmbedding(hidden.to(ScalarType.Float32).to(device).MoveToOuterDisposeScope(),
            maskT.to(device).MoveToOuterDisposeScope(), embeds.to(ScalarType.Float32).to(device).MoveToOuterDisposeScope());
    }

    /// <summary>The raw tower outputs for given ids and mask (for parity checks): last hidden state, pooled output, projected embedding.</summary>
    public (Tensor Hidden, Tensor Pooled, Tensor Embeds) Forward(Tensor ids, Tensor? mask)
    {
        using var noGrad = no_grad();
        return _model.EncodeText(ids.to(_device), mask?.to(_device));
    }

    /// <inheritdoc />
    public void MoveTo(Device device, ScalarType? dtype = null)
    {
        _model.to(device);
        if (dtype is ScalarType d) _model.to(d);
        _device = device;
    }

    /// <inheritdoc />
    public void Dispose() => _model.Dispose();
}

/// <summary>
/// CLIP's vision tower as an <see cref="IImageEncoder"/>: images in [−1, 1] of any size are
/// preprocessed as CLIP does and encoded to the projected image embedding.
/// </summary>
public sealed class ClipImageEncoder : IImageEncoder
{
    private readonly ClipModel _model;

    /// <summary>The preprocessing applied before the vision tower.</summary>
    public ClipImageProcessor Processor { get; }

    /// <summary>Loads the vision tower and preprocessing of a Hugging Face CLIP folder.</summary>
    public static ClipImageEncoder Load(string folder)
    {
        var model = ClipCheckpoint.Load(folder, ClipTowers.Vision);
        try
        {
            var processor = ClipImageProcessor.Load(Path.Combine(folder, ClipImageProcessor.ConfigFile), model.Config.Vision.ImageSize);
            if (processor.CropHeight != model.Config.Vision.ImageSize || processor.CropWidth != model.Config.Vision.ImageSize)
                throw new InvalidDataException($"'{folder}': the preprocessor crops {processor.CropHeight}×{processor.CropWidth} but the vision tower takes {model.Config.Vision.ImageSize}×{model.Config.Vision.ImageSize}.");
            return new ClipImageEncoder(model, processor);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>Wraps a model with a vision tower and its preprocessing (the encoder owns the model).</summary>
    public ClipImageEncoder(ClipModel model, ClipImageProcessor processor)
    {
        if (!model.Towers.HasFlag(ClipTowers.Vision)) throw new ArgumentException("the model has no vision tower", nameof(model));
        _model = model;
        Processor = processor;
        _model.eval();
    }

    /// <inheritdoc />
    public string Name => "clip-vision";
    /// <inheritdoc />
    public int Dimension => _model.Config.ProjectionDim;

    /// <inheritdoc />
    public Tensor Encode(Tensor images)
    {
        using var scope = NewDisposeScope();
        var pixels = Processor.Apply(images);
        return EncodePixels(pixels).to(ScalarType.Float32).to(images.device).MoveToOuterDisposeScope();
    }

    /// <summary>Encodes an image file (see <see cref="ClipImageFiles.Load"/>) to [1, Dimension] on the encoder's device.</summary>
    public Tensor EncodeFile(string path)
    {
        using var scope = NewDisposeScope();
        var image = ClipImageFiles.Load(path).to(_model.parameters().First().device);
        return Encode(image).MoveToOuterDisposeScope();
    }

    /// <summary>The projected embedding of already preprocessed pixels [B, 3, S, S].</summary>
    public Tensor EncodePixels(Tensor pixels) => Forward(pixels).Embeds;

    /// <summary>The raw tower outputs for preprocessed pixels (for parity checks): last hidden state, pooled output, projected embedding.</summary>
    public (Tensor Hidden, Tensor Pooled, Tensor Embeds) Forward(Tensor pixels)
    {
        using var noGrad = no_grad();
        var first = _model.parameters().First();
        return _model.EncodeImage(pixels.to(first.dtype, first.device));
    }

    /// <inheritdoc />
    public void MoveTo(Device device, ScalarType? dtype = null)
    {
        _model.to(device);
        if (dtype is ScalarType d) _model.to(d);
    }

    /// <inheritdoc />
    public void Dispose() => _model.Dispose();
}
