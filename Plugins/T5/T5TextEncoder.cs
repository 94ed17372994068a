using EDiffI.Conditioning;
using EDiffI.Encoders;
using TorchSharp;
using static TorchSharp.torch;

namespace EDiffI.Plugins.T5;

/// <summary>
/// eDiff-I's T5 stream: a T5 encoder checkpoint (Hugging Face layout: config.json, safetensors,
/// spiece.model) turning prompts into per-token embeddings, the last hidden state with padded
/// positions zeroed; no pooled vector.
/// </summary>
public sealed class T5TextEncoder : ITextEncoder
{
    private readonly T5EncoderModel _model;

    /// <summary>Loads the checkpoint in <paramref name="folder"/> onto the CPU in float32.</summary>
    /// <exception cref="InvalidDataException">When the folder, its configuration, tokenizer or weights are missing or do not fit.</exception>
    public T5TextEncoder(string folder, int maxTokens, string name = "t5")
    {
        if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"The T5 checkpoint folder '{folder}' does not exist.");
        ArgumentOutOfRangeException.ThrowIfLessThan(maxTokens, 2);
        Tokenizer = T5Tokenizer.Load(folder);
        var config = T5Config.Read(folder);
        if (config.VocabSize < Tokenizer.VocabularySize)
            throw new InvalidDataException($"'{folder}': vocab_size {config.VocabSize} is smaller than the tokenizer's {Tokenizer.PieceCount} pieces + {T5Tokenizer.SentinelCount} sentinels.");
        _model = T5Loader.LoadEncoder(folder, config, T5Placement.Cpu);
        _model.eval();
        (Name, MaxTokens) = (name, maxTokens);
    }

    /// <summary>The tokenizer.</summary>
    public T5Tokenizer Tokenizer { get; }

    /// <summary>The encoder network.</summary>
    public T5EncoderModel Model => _model;

    /// <inheritdoc />
    public string Name { get; }
    /// <inheritdoc />
    public int Dimension => _model.Config.DModel;
    /// <inheritdoc />
    public int? PooledDimension => null;
    /// <inheritdoc />
    public int MaxTokens { get; }

    /// <inheritdoc />
    public PromptTokenization Tokenize(string prompt) => Tokenizer.Tokenize(prompt, MaxTokens);

    /// <summary>Padded ids [B, L] and mask [B, L] (L = longest prompt, at most MaxTokens) on the CPU.</summary>
    public (Tensor Ids, Tensor Mask) Batch(IReadOnlyList<string> prompts)
    {
        var rows = prompts.Select(p => Tokenize(p).Tokens).ToList();
        int length = Math.Max(1, rows.Max(r => r.Count));
        var ids = new long[rows.Count * length];
        var mask = new bool[rows.Count * length];
        for (int i = 0; i < rows.Count; i++)
            for (int j = 0; j < rows[i].Count; j++)
            {
                ids[i * length + j] = rows[i][j].Id;
                mask[i * length + j] = true;
            }
        return (tensor(ids, [rows.Count, length]), tensor(mask, [rows.Count, length]));
    }

    /// <inheritdoc />
    public TextEmbedding Encode(IReadOnlyList<string> prompts, Device device)
    {
        ArgumentNullException.ThrowIfNull(prompts);
        if (prompts.Count == 0) throw new ArgumentException("Encode needs at least one prompt.", nameof(prompts));
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var (ids, mask) = Batch(prompts);
        var hidden = _model.Encode(ids, mask).to(ScalarType.Float32).to(device);
        var maskOut = mask.to(device);
        var tokens = hidden * maskOut.unsqueeze(2).to(ScalarType.Float32);
        return new TextEmbedding(tokens.MoveToOuterDisposeScope(), maskOut.MoveToOuterDisposeScope(), null);
    }

    /// <summary>Moves the weights; without a dtype, CUDA gets bfloat16 and other devices keep theirs.</summary>
    public void MoveTo(Device device, ScalarType? dtype = null)
    {
        var target = dtype ?? (device.type == DeviceType.CUDA ? ScalarType.BFloat16 : _model.DType);
        _model.to(device, target);
    }

    /// <inheritdoc />
    public void Dispose() => _model.Dispose();
}
