using EDiffI.Denoising;
using EDiffI.Sampling;
using static TorchSharp.torch;

namespace EDiffI.Plugins.Sampling;

/// <summary>
/// Euler's method on the probability-flow ODE (Karras et al. 2022, Algorithm 1 without the
/// correction): first order, one evaluation per step. Integrates in float64.
/// </summary>
public sealed class EulerSampler : ISampler
{
    /// <inheritdoc />
    public string Name => "euler";

    /// <inheritdoc />
    public int Evaluations(int steps) => steps;

    /// <inheritdoc />
    public Tensor Sample(IDenoiser denoiser, SamplingRequest request)
    {
        var t = request.Sigmas;
        int n = t.Count - 1;
        var xNext = HeunSampler.Start(request.Noise, t[0]);
        for (int i = 0; i < n; i++)
        {
            using var scope = NewDisposeScope();
            var xCur = xNext;
            request.CancellationToken.ThrowIfCancellationRequested();
            var denoised = denoiser.Denoise(xCur, t[i], request.Conditioning);
            var d = (xCur - denoised) / t[i];
            var next = xCur + (t[i + 1] - t[i]) * d;
            request.Callback?.Invoke(new SamplerStep(i, n, t[i], xCur, denoised));
            xNext = next.DetachFromDisposeScope();
            xCur.Dispose();
        }
        return xNext;
    }
}
