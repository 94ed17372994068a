namespace EDiffI.Plugins.PaintWithWords;

/// <summary>Options of paint-with-words, bound to the "PaintWithWords" configuration section.</summary>
public sealed class PaintWithWordsOptions
{
    /// <summary>ω(σ): "max" (eDiff-I's w′·log(1 + σ)·max(QKᵀ), the default) or "std" (<see cref="PaintWeights.Std"/>).</summary>
    public string Weighting { get; set; } = "max";

    /// <summary>
    /// How strongly a phrase's tokens are pushed away outside its region, relative to the pull inside: 0 (the default)
    /// is eDiff-I's, which only pulls inside, so the model may still draw the object elsewhere as well; 1 subtracts
    /// ω(σ) from the phrase's logits at every pixel no region of that phrase covers (an extension of the paper).
    /// </summary>
    public double Outside { get; set; }
}
