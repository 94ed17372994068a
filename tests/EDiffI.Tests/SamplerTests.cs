using EDiffI.Conditioning;
using EDiffI.Diffusion;
using EDiffI.Plugins.Sampling;
using EDiffI.Sampling;
using Microsoft.Extensions.Options;
using static TorchSharp.torch;

namespace EDiffI.Tests;

public class SamplerTests
{
    private static GaussianMixtureDenoiser Mixture() => new(
        [0.2, 0.3, 0.5],
        [[-2.0, 0.0], [2.0, 1.0], [0.0, -2.5]],
        [0.3, 0.5, 0.4]);

    private static Tensor Noise(int n, ulong seed)
    {
        using var g = new Generator(seed);
        return randn([n, 2, 1, 1], ScalarType.Float64, generator: g);
    }

    private static Tensor Run(ISampler sampler, GaussianMixtureDenoiser d, Tensor noise, int steps) =>
        sampler.Sample(d, new SamplingRequest(noise, Edm.KarrasSigmas(steps), ConditioningInputs.Unconditional));

    [Fact]
    public void HeunFromSigmaMaxReproducesTheMixture()
    {
        var d = Mixture();
        using var noise = Noise(20_000, 1);
        using var samples = Run(new HeunSampler(), d, noise, 32);
        var xs = samples.reshape(-1, 2).data<double>().ToArray();
        int n = xs.Length / 2, k = d.Weights.Length;
        var count = new int[k];
        var sum = new double[k, 2];
        var sumSq = new double[k];
        for (int i = 0; i < n; i++)
        {
            double x = xs[2 * i], y = xs[2 * i + 1];
            int best = Enumerable.Range(0, k).MinBy(c => Math.Pow(x - d.Means[c][0], 2) + Math.Pow(y - d.Means[c][1], 2));
            count[best]++;
            sum[best, 0] += x;
            sum[best, 1] += y;
        }
        for (int i = 0; i < n; i++)
        {
            double x = xs[2 * i], y = xs[2 * i + 1];
            int best = Enumerable.Range(0, k).MinBy(c => Math.Pow(x - d.Means[c][0], 2) + Math.Pow(y - d.Means[c][1], 2));
            sumSq[best] += Math.Pow(x - sum[best, 0] / count[best], 2) + Math.Pow(y - sum[best, 1] / count[best], 2);
        }
        for (int c = 0; c < k; c++)
        {
            // Tolerances: weights within 0.02 (about 3.5 binomial standard errors at n = 20 000),
            // means within 0.05, per-axis variance within 12% of s_k².
            Assert.InRange(count[c] / (double)n, d.Weights[c] - 0.02, d.Weights[c] + 0.02);
            Assert.InRange(sum[c, 0] / count[c], d.Means[c][0] - 0.05, d.Means[c][0] + 0.05);
            Assert.InRange(sum[c, 1] / count[c], d.Means[c][1] - 0.05, d.Means[c][1] + 0.05);
            double variance = sumSq[c] / count[c] / 2, expected = d.Stds[c] * d.Stds[c];
            Assert.InRange(variance, expected * 0.88, expected * 1.12);
        }
    }

    private static double[] Errors(ISampler sampler, int[] steps)
    {
        var d = Mixture();
        using var noise = Noise(512, 2);
        using var reference = Run(new HeunSampler(), d, noise, 2048);
        return steps.Select(n =>
        {
            using var x = Run(sampler, d, noise, n);
            using var e = (x - reference).square().mean().sqrt();
            return e.item<double>();
        }).ToArray();
    }

    [Fact]
    public void HeunIsSecondOrder()
    {
        var e = Errors(new HeunSampler(), [64, 128, 256]);
        Assert.InRange(e[0] / e[1], 3.2, 5.0);
        Assert.InRange(e[1] / e[2], 3.2, 5.0);
    }

    [Fact]
    public void EulerIsFirstOrder()
    {
        var e = Errors(new EulerSampler(), [64, 128, 256]);
        Assert.InRange(e[0] / e[1], 1.6, 2.5);
        Assert.InRange(e[1] / e[2], 1.6, 2.5);
    }

    [Fact]
    public void HeunCosts2NMinus1EvaluationsAndReportsEachStep()
    {
        var d = Mixture();
        using var noise = Noise(4, 3);
        var seen = new List<(int Index, double Sigma)>();
        var sigmas = Edm.KarrasSigmas(10);
        using var x = new HeunSampler().Sample(d, new SamplingRequest(noise, sigmas, ConditioningInputs.Unconditional,
            Callback: (in SamplerStep s) => { seen.Add((s.Index, s.Sigma)); Assert.Equal(s.X.shape, s.Denoised.shape); }));
        Assert.Equal(19, d.Evaluations);
        Assert.Equal(new HeunSampler().Evaluations(10), d.Evaluations);
        Assert.Equal(Enumerable.Range(0, 10), seen.Select(s => s.Index));
        Assert.Equal(sigmas.Take(10), seen.Select(s => s.Sigma));
        Assert.Equal(ScalarType.Float64, x.dtype);
    }

    [Fact]
    public void CancellationStopsBetweenEvaluations()
    {
        var d = Mixture();
        using var noise = Noise(4, 4);
        using var cts = new CancellationTokenSource();
        var request = new SamplingRequest(noise, Edm.KarrasSigmas(10), ConditioningInputs.Unconditional,
            Callback: (in SamplerStep s) => { if (s.Index == 2) cts.Cancel(); }, CancellationToken: cts.Token);
        Assert.Throws<OperationCanceledException>(() => new HeunSampler().Sample(d, request));
        Assert.Equal(6, d.Evaluations); // steps 0, 1, 2 ran whole; nothing after the cancel
    }

    [Fact]
    public void StochasticHeunIsReproducibleFromItsGenerator()
    {
        var sampler = new HeunSampler(Options.Create(new HeunSamplerOptions { SChurn = 40, STmin = 0.05, STmax = 50, SNoise = 1.003 }));
        using var noise = Noise(64, 5);
        Tensor Once(ulong seed)
        {
            using var g = new Generator(seed);
            return sampler.Sample(Mixture(), new SamplingRequest(noise, Edm.KarrasSigmas(16), ConditioningInputs.Unconditional, g));
        }
        using var a = Once(9);
        using var b = Once(9);
        using var c = Once(10);
        Assert.True(a.equal(b).all().item<bool>());
        Assert.False(a.equal(c).all().item<bool>());
    }
}
