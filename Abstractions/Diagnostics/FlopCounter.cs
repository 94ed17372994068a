namespace EDiffI.Diagnostics;

/// <summary>
/// Counts the floating-point operations of the matrix work (convolutions, linear layers, attention
/// products) of forward passes run inside <see cref="Start"/>; one multiply-add counts as two.
/// Element-wise work (normalisation, activations) is left out, as FLOP counts of U-Nets usually do.
/// </summary>
public sealed class FlopCounter : IDisposable
{
    private static readonly AsyncLocal<FlopCounter?> Current = new();
    private readonly FlopCounter? _previous;

    /// <summary>Operations counted so far.</summary>
    public long Flops { get; private set; }

    private FlopCounter()
    {
        _previous = Current.Value;
        Current.Value = this;
    }

    /// <summary>Starts counting on this flow of execution until disposed.</summary>
    public static FlopCounter Start() => new();

    /// <summary>Adds operations to the active counter, if any (called by layers).</summary>
    public static void Add(long flops)
    {
        if (Current.Value is FlopCounter c) c.Flops += flops;
    }

    /// <inheritdoc />
    public void Dispose() => Current.Value = _previous;
}
