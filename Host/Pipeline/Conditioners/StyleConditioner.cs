using EDiffI.Conditioning;
using EDiffI.Encoders;
using EDiffI.Host.Imaging;
using static TorchSharp.torch;

namespace EDiffI.Host.Pipeline.Conditioners;

/// <summary>
/// Style reference (eDiff-I, Section 4.2): the CLIP image embedding of a reference image, scaled by the
/// strength, fills the built-in CLIP image stream (pooled vector and image token). Strength 0 is the same
/// as no reference.
/// </summary>
public sealed class StyleConditioner : IConditioner
{
    /// <summary>The name requests use.</summary>
    public const string ConditionerName = "style";

    /// <summary>The strength of a request that gives none.</summary>
    public const double DefaultStrength = 1.0;

    /// <inheritdoc />
    public string Name => ConditionerName;

    /// <inheritdoc />
    public string InputHelp => "a reference image (CLI: --style FILE) and a strength (--style-strength, default 1; 0 = no style)";

    /// <inheritdoc />
    public ConditionerSlot Slot => ConditionerSlot.None;

    /// <inheritdoc />
    public string? Unavailable(ConditionerModel model) =>
        model.ImageEncoder is null ? "it has no CLIP image encoder (no \"clipImage\" in its model.json), so it takes no style reference" : null;

    /// <inheritdoc />
    public void Check(ConditionerInput input, string prompt, ConditionerModel model)
    {
        if (input.Image is not { } image) throw new ArgumentException("The style reference needs an image.");
        image.CheckWellFormed("The style reference");
        if (input.Weight is { } w && (!(w >= 0) || double.IsInfinity(w)))
            throw new ArgumentException($"The style strength must be 0 or more (got {input.Weight}).");
    }

    /// <inheritdoc />
    public ConditionerOutput Condition(ConditionerInput input, ConditionerContext context)
    {
        Check(input, context.Prompt, context.Model);
        var encoder = context.Model.ImageEncoder ?? throw new ArgumentException(Unavailable(context.Model));
        double strength = input.Weight ?? DefaultStrength;
        using var reference = ImageFiles.FromRgba8(input.Image!.Rgba, input.Image.Width, input.Image.Height);
        var embedding = Embed(encoder, reference, strength, context.Device);
        return new ConditionerOutput(ImageEmbedding: embedding, Used: new Dictionary<string, double> { ["strength"] = strength });
    }

    /// <summary>The style embedding of <paramref name="image"/> ([3, H, W] in [−1, 1]) scaled by <paramref name="strength"/>: [1, D].</summary>
    public static Tensor Embed(IImageEncoder encoder, Tensor image, double strength, Device device)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var embedding = encoder.Encode(image.unsqueeze(0).to(ScalarType.Float32, device)) * strength;
        return embedding.MoveToOuterDisposeScope();
    }
}
