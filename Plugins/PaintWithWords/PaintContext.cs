using EDiffI.Attention;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace EDiffI.Plugins.PaintWithWords;

/// <summary>Where one phrase's tokens sit in each text stream (positions within the stream).</summary>
/// <param name="Phrase">The phrase.</param>
/// <param name="Clip">Token positions in the CLIP text stream.</param>
/// <param name="T5">Token positions in the T5 stream.</param>
public sealed record PhraseTokens(string Phrase, IReadOnlyList<int> Clip, IReadOnlyList<int> T5);

/// <summary>
/// The typed extra paint-with-words attaches to the conditioning: the regions' masks, their phrases'
/// token positions, w′ and the weight function the processor reads.
/// </summary>
public sealed class PaintContext
{
    /// <summary>Masks of the regions, [R, H, W] float32 in [0, 1].</summary>
    public Tensor Masks { get; }
    /// <summary>Token positions of each region's phrase, in the order of <see cref="Masks"/>.</summary>
    public IReadOnlyList<PhraseTokens> Tokens { get; }
    /// <summary>The user's w′.</summary>
    public double Weight { get; }
    /// <summary>ω(σ); <see cref="PaintWeights.Max"/> (the paper's) unless replaced.</summary>
    public PaintWeightFunction WeightFunction { get; }

    /// <summary>Stacks the masks (a copy the context owns, kept out of any dispose scope).</summary>
    public PaintContext(IReadOnlyList<Tensor> masks, IReadOnlyList<PhraseTokens> tokens, double weight, PaintWeightFunction? weightFunction = null)
    {
        if (masks.Count != tokens.Count) throw new ArgumentException("one mask per phrase is needed", nameof(masks));
        if (masks.Count == 0) throw new ArgumentException("at least one region is needed", nameof(masks));
        using (var scope = NewDisposeScope())
            Masks = stack(masks.Select(m => m.to(ScalarType.Float32).cpu()).ToArray(), 0).MoveToOuterDisposeScope();
        Masks.DetachFromDisposeScope();
        Tokens = tokens;
        Weight = weight;
        WeightFunction = weightFunction ?? PaintWeights.Max;
    }

    /// <summary>
    /// The masks at an attention resolution, [R, height·width]: adaptive average pooling, so each cell
    /// holds the fraction of it the region covers and the region's area is kept (soft masks).
    /// </summary>
    public Tensor MasksAt(int height, int width) =>
        F.adaptive_avg_pool2d(Masks.unsqueeze(1), [height, width]).view(Masks.shape[0], (long)height * width);

    /// <summary>
    /// A of paint-with-words, [height·width, <paramref name="length"/>]: for each query pixel and
    /// context token, the mask value of the region whose phrase the token belongs to (capped at 1).
    /// </summary>
    public Tensor RegionTokenMatrix(int height, int width, ContextLayout layout, long length)
    {
        using var scope = NewDisposeScope();
        var tokens = zeros(Tokens.Count, length);
        for (int r = 0; r < Tokens.Count; r++)
        {
            foreach (int p in Tokens[r].Clip) if (p < layout.ClipLength) tokens[r, layout.ClipStart + p] = 1;
            foreach (int p in Tokens[r].T5) if (p < layout.T5Length) tokens[r, layout.T5Start + p] = 1;
        }
        return MasksAt(height, width).t().matmul(tokens).clamp_max(1).MoveToOuterDisposeScope();
    }
}
