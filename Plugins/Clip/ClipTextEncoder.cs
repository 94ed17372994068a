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
