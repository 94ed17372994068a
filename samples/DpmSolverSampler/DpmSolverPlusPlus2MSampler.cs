using EDiffI.Denoising;
using EDiffI.Sampling;
using static TorchSharp.torch;

namespace DpmSolverSampler;

/// <summary>
/// DPM-Solver++(2M) (Lu et al. 2022, Algorithm 2), the multistep second-order solver of the data-
/// prediction ODE, in the time variable t = −ln σ. One evaluation per step; the first step and the
/// step to σ = 0 are first order. Use it with the Karras schedule, as its authors recommend.
/// </summary>
public sealed class DpmSolverPlusPlus2MSampler : ISampler
{
    /// <inheritdoc />
    public string Name => "dpmpp-2m";

    /// <inheritdoc />
    public int Evaluations(int steps) => steps;

    /// <inheritdoc />
    public Tensor Sample(IDenoiser denoiser, SamplingRequest request)
    {
        var sigmas = request.Sigmas;
        int n = sigmas.Count - 1;
        Tensor x;
        using (var start = NewDisposeScope()) x = (request.Noise.to(ScalarType.Float64) * sigmas[0]).DetachFromDisposeScope();
        Tensor? previous = null;
        for (int i = 0; i < n; i++)
        {
            using var scope = NewDisposeScope();
            request.CancellationToken.ThrowIfCancellationRequested();
            double s = sigmas[i], sNext = sigmas[i + 1];
            var denoised = denoiser.Denoise(x, s, request.Conditioning);
            Tensor next;
            if (sNext == 0)
            {
                next = denoised.alias();                       // the limit t → ∞ of the update below
            }
            else
            {
                double h = Math.Log(s / sNext);                   // t_{i+1} − t_i
                var d = denoised;
                if (previous is not null)
                {
                    double hLast = Math.Log(sigmas[i - 1] / s);
                    double r = hLast / h;
                    d = (1 + 1 / (2 * r)) * denoised - 1 / (2 * r) * previous;
                }
                next = sNext / s * x - (Math.Exp(-h) - 1) * d;     // x_{i+1} = (σ_{i+1}/σ_i) x_i − (e^{−h} − 1) D
            }
            request.Callback?.Invoke(new SamplerStep(i, n, s, x, denoised));
            previous?.Dispose();
            previous = denoised.DetachFromDisposeScope();
            x.Dispose();
            x = next.DetachFromDisposeScope();
        }
        previous?.Dispose();
        return x;
    }
}
