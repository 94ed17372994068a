using TorchSharp;
using static TorchSharp.torch;

namespace EDiffI.Networks;

/// <summary>
/// Scalars that live as long as the process. TorchSharp 0.107 turns every number an operation takes into a
/// <see cref="Scalar"/> that only its finalizer frees, and passes the Scalar's native handle on without keeping the
/// object alive: a garbage collection during a long native call (a large CPU add) can free the Scalar under it, and
/// libtorch then fails with "Expected false to be true" in <c>Scalar::toFloat</c> or <c>toLong</c> (even
/// <c>a + b</c> makes one: it is <c>add(b, 1)</c>). Code on hot paths that run long CPU operations beside other
/// allocating threads passes these instead: the text encoders on a trainer's data thread, the U-Net's sums, norms and
/// skip scales, the preconditioned sum and the EDM loss. Numbers that change per call (the optimizer's step sizes) are
/// held in <c>using</c> locals instead, which keep them alive until the call returns.
/// </summary>
public static class HeldScalars
{
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<double, Scalar> Held = new();

    /// <summary>The alpha of a plain sum.</summary>
    public static Scalar One { get; } = 1;

    /// <summary>The held Scalar of <paramref name="value"/> (made once per value; use it for constants, not per-call numbers).</summary>
    public static Scalar Of(double value) => Held.GetOrAdd(value, v => v);

    /// <summary>a + b with a held alpha: the same as <c>a + b</c>, without a temporary Scalar.</summary>
    public static Tensor Plus(this Tensor a, Tensor b) => a.add(b, One);
}
