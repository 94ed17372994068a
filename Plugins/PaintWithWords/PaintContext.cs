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
public sealed class PaintContext : IDisposable
{
    // A per layer shape, layout and device: every step and every layer of that shape reuses it.
    private readonly Dictionary<(int Height, int Width, ContextLayout Layout, long Length, string Device), Tensor> _matrices = [];
    private readonly object _lock = new();

    /// <summary>Masks of the regions, [R, H, W] float32 in [0, 1].</summary>
    public Tensor Masks { get; }
    /// <summary>Token positions of each region's phrase, in the order of <see cref="Masks"/>.</summary>
    public IReadOnlyList<PhraseTokens> Tokens { get; }
    /// <summary>The largest w′ of the regions: ω(σ) is computed with it, and 0 means plain attention.</summary>
    public double Weight { get; }
    /// <summary>Each region's w′, in the order of <see cref="Masks"/>.</summary>
    public IReadOnlyList<double> RegionWeights { get; }
    /// <summary>ω(σ); <see cref="PaintWeights.Max"/> (the paper's) unless replaced.</summary>
    public PaintWeightFunction WeightFunction { get; }

    /// <summary>Stacks the masks (a copy the context owns, kept out of any dispose scope); every region has w′ = <paramref name="weight"/>.</summary>
    public PaintContext(IReadOnlyList<Tensor> masks, IReadOnlyList<PhraseTokens> tokens, double weight, PaintWeightFunction? weightFunction = null, double outside = 0)
        : this(masks, tokens, Enumerable.Repeat(weight, masks.Count).ToList(), weightFunction, outside)
    {
    }

    /// <summary>Stacks the masks (a copy the context owns, kept out of any dispose scope); region r has w′ = <paramref name="weights"/>[r].</summary>
    public PaintContext(IReadOnlyList<Tensor> masks, IReadOnlyList<PhraseTokens> tokens, IReadOnlyList<double> weights, PaintWeightFunction? weightFunction = null, double outside = 0)
    {
        if (!(outside >= 0) || double.IsInfinity(outside)) throw new ArgumentException("the outside push must be finite and 0 or more", nameof(outside));
        if (masks.Count != tokens.Count || masks.Count != weights.Count) throw new ArgumentException("one mask and one weight per phrase are needed", nameof(masks));
        if (masks.Count == 0) throw new ArgumentException("at least one region is needed", nameof(masks));
        if (weights.Any(w => !(w >= 0) || double.IsInfinity(w))) throw new ArgumentException("paint weights must be finite and 0 or more", nameof(weights));
        using (var scope = NewDisposeScope())
            Masks = stack(masks.Select(m => m.to(ScalarType.Float32).cpu()).ToArray(), 0).MoveToOuterDisposeScope();
        Masks.DetachFromDisposeScope();
        Tokens = tokens;
        RegionWeights = weights.ToList();
        Weight = RegionWeights.Max();
        WeightFunction = weightFunction ?? PaintWeights.Max;
        Outside = outside;
    }

    /// <summary>How strongly a phrase's tokens are pushed away outside its regions, relative to the pull inside (0: the paper's, none).</summary>
    public double Outside { get; }

    /// <summary>
    /// The masks at an attention resolution, [R, height·width]: adaptive average pooling, so each cell
    /// holds the fraction of it the region covers and the region's area is kept (soft masks).
    /// </summary>
    public Tensor MasksAt(int height, int width) =>
        F.adaptive_avg_pool2d(Masks.unsqueeze(1), [height, width]).view(Masks.shape[0], (long)height * width);

    /// <summary>
    /// A of paint-with-words, [height·width, <paramref name="length"/>] on <paramref name="device"/>: for each
    /// query pixel and context token, the mask value of the region whose phrase the token belongs to (capped
    /// at 1), scaled by the region's w′ relative to <see cref="Weight"/> (so ω(σ)·A gives each region its own
    /// w′). With <see cref="Outside"/> above 0, a phrase's tokens get −Outside (times the same scale) at the cells none
    /// of its regions touches. Built once per shape and device and kept by the context: callers must not dispose it.
    /// </summary>
    public Tensor RegionTokenMatrix(int height, int width, ContextLayout layout, long length, Device device)
    {
        var key = (height, width, layout, length, device.ToString());
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_matrices.TryGetValue(key, out var cached)) return cached;
            using var scope = NewDisposeScope();
            var tokens = zeros(Tokens.Count, length);
            for (int r = 0; r < Tokens.Count; r++)
            {
                float scale = Weight == 0 ? 0 : (float)(RegionWeights[r] / Weight);
                foreach (int p in Tokens[r].Clip) if (p < layout.ClipLength) tokens[r, layout.ClipStart + p] = scale;
                foreach (int p in Tokens[r].T5) if (p < layout.T5Length) tokens[r, layout.T5Start + p] = scale;
            }
            var masks = MasksAt(height, width);
            var matrix = masks.t().matmul(tokens).clamp_max(1);
            // The push away: −Outside at the cells no region of the token covers (a cell any of its regions touches keeps its pull).
            if (Outside > 0) matrix = matrix - Outside * (1 - masks).t().matmul(tokens).clamp_max(1) * matrix.le(0).to(matrix.dtype);
            matrix = matrix.to(device).MoveToOuterDisposeScope();
            matrix.DetachFromDisposeScope();
            _matrices[key] = matrix;
            return matrix;
        }
    }

    private bool _disposed;

    /// <summary>Frees the masks and the matrices built from them.</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed) return;
            _disposed = true;
            foreach (var m in _matrices.Values) m.Dispose();
            _matrices.Clear();
            Masks.Dispose();
        }
    }
}
