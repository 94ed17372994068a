namespace EDiffI.Plugins.PaintWithWords;

/// <summary>Options of paint-with-words, bound to the "PaintWithWords" configuration section.</summary>
public sealed class PaintWithWordsOptions
{
    /// <summary>ω(σ): "max" (eDiff-I's w′·log(1 + σ)·max(QKᵀ), the default) or "std" (<see cref="PaintWeights.Std"/>).</summary>
    public string Weighting { get; set; } = "max";
}
