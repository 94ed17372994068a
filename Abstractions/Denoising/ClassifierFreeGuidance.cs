using EDiffI.Conditioning;
using static TorchSharp.torch;

namespace EDiffI.Denoising;

/// <summary>
/// Classifier-free guidance (Ho and Salimans 2022) as a denoiser wrapper:
/// D_w = D(x; σ, ∅) + w (D(x; σ, c) − D(x; σ, ∅)). Both branches run in one batched call.
/// A scale of 1 is the conditional model alone and costs one branch.
/// </summary>
public sealed class ClassifierFreeGuidance(IDenoiser inner, double scale) : IDenoiser
{
    /// <summary>The guidance weight w.</summary>
    public double Scale { get; } = scale;

    /// <inheritdoc />
    public Tensor Denoise(Tensor x, Tensor sigma, ConditioningInputs conditioning) =>
        Guide(x, conditioning, (input, both, doubled) => inner.Denoise(input, doubled ? cat([sigma, sigma], 0) : sigma, both));

    /// <inheritdoc />
    public Tensor Denoise(Tensor x, double sigma, ConditioningInputs conditioning) =>
        Guide(x, conditioning, (input, both, _) => inner.Denoise(input, sigma, both));

    // Runs the conditional and unconditional branches in one batched call and mixes them.
    private Tensor Guide(Tensor x, ConditioningInputs conditioning, Func<Tensor, ConditioningInputs, bool, Tensor> denoise)
    {
        if (Scale == 1 || conditioning.IsUnconditional) return denoise(x, conditioning, false);
        using var scope = NewDisposeScope();
        long b = x.shape[0];
        var both = ConditioningInputs.Concat(conditioning, b, ConditioningInputs.Unconditional, b);
        var denoised = denoise(cat([x, x], 0), both, true);
        var cond = denoised.narrow(0, 0, b);
        var uncond = denoised.narrow(0, b, b);
        return (uncond + Scale * (cond - uncond)).MoveToOuterDisposeScope();
    }
}
