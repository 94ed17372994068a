using EDiffI.Conditioning;
using EDiffI.Encoders;
using static TorchSharp.torch;

namespace EDiffI.Attention;

/// <summary>One painted region: a phrase of the prompt and where in the image it should appear.</summary>
/// <param name="Phrase">Words of the prompt (case-insensitive, every occurrence).</param>
/// <param name="Mask">Where the phrase goes, [H, W] float32 in [0, 1] at image (or any) resolution.</param>
/// <param name="Weight">This region's own w′; null for the request's.</param>
public sealed record PaintRegion(string Phrase, Tensor Mask, double? Weight = null);

/// <summary>What to paint: the prompt, its regions and the user's weight w′ (eDiff-I, Section 4.3).</summary>
/// <param name="Prompt">The prompt the regions' phrases are taken from.</param>
/// <param name="Regions">The regions, one per phrase.</param>
/// <param name="Weight">w′ of ω(σ) = w′·log(1 + σ)·max(QKᵀ) for regions without their own; 0 leaves them unchanged.</param>
public sealed record PaintRequest(string Prompt, IReadOnlyList<PaintRegion> Regions, double Weight);

/// <summary>
/// Paint-with-words, training-free (eDiff-I, Section 4.3): a cross-attention processor that adds
/// ω(σ)·A to the attention logits, A tying each phrase's tokens to its region. Provided by a plugin.
/// </summary>
public interface IPaintWithWords
{
    /// <summary>
    /// Locates every phrase in each text stream the model has and attaches the result to
    /// <paramref name="conditioning"/> as a typed extra the processor reads. Throws an
    /// <see cref="ArgumentException"/> naming a phrase that is in no stream of the prompt.
    /// </summary>
    ConditioningInputs Attach(ConditioningInputs conditioning, PaintRequest request, IReadOnlyDictionary<TextStream, ITextEncoder> encoders);

    /// <summary>The processor to swap into <paramref name="layer"/>; it falls back to plain attention without the extra.</summary>
    ICrossAttentionProcessor ProcessorFor(CrossAttentionLayer layer);
}
