using EDiffI.Encoders;
using TorchSharp;
using static TorchSharp.torch;

namespace EDiffI.Plugins.Clip;

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
