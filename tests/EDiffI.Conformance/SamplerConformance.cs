using EDiffI.Conditioning;
using EDiffI.Diffusion;
using EDiffI.Sampling;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace EDiffI.Conformance;

/// <summary>
/// What every <see cref="ISampler"/> must do. Subclass it in an xunit project and return your sampler
/// from <see cref="CreateSampler"/>; override the tolerances where your solver's order warrants.
/// </summary>
public abstract class SamplerConformance
{
    /// <summary>The sampler under test.</summary>
    protected abstract ISampler CreateSampler();

    /// <summary>Steps of the accuracy test.</summary>
    protected virtual int Steps => 32;

    /// <summary>
    /// Largest RMS error against the exact ODE solution at <see cref="Steps"/> steps, from σ = 80 (data
    /// std 0.5). For scale: EDM's Heun reaches 0.008 at 32 steps, Euler 0.022 at 64.
    /// </summary>
    protected virtual double Tolerance => 0.02;

    /// <summary>False for samplers that add noise (S_churn &gt; 0): they are checked against the data's statistics instead.</summary>
    protected virtual bool SolvesTheOde => true;

    private static Tensor Noise(int batch, ulong seed)
    {
        using var g = new Generator(seed);
        return randn([batch, 3, 4, 4], ScalarType.Float64, generator: g);
    }

    private static SamplingRequest Request(Tensor noise, int steps, Generator? g = null, SamplerCallback? callback = null, CancellationToken ct = default) =>
        new(noise, Edm.KarrasSigmas(steps), ConditioningInputs.Unconditional, g, callback, ct);

    /// <summary>The result is float64, shaped like the noise, on its device.</summary>
    [Fact]
    public void ReturnsFloat64ShapedLikeTheNoise()
    {
        using var noise = Noise(2, 1);
        using var x = CreateSampler().Sample(new GaussianDenoiser(), Request(noise, 6));
        Assert.Equal(noise.shape, x.shape);
        Assert.Equal(ScalarType.Float64, x.dtype);
        Assert.True(x.isfinite().all().item<bool>());
    }

    /// <summary>The same noise and generator seed give the same result, bit for bit.</summary>
    [Fact]
    public void IsDeterministic()
    {
        using var noise = Noise(2, 2);
        Tensor Run()
        {
            using var g = new Generator(5);
            return CreateSampler().Sample(new GaussianDenoiser(), Request(noise, 8, g));
        }
        using var a = Run();
        using var b = Run();
        Assert.True(a.equal(b).all().item<bool>());
    }

    /// <summary>It evaluates the denoiser as often as it declares, and reports each step once, in order, at the schedule's σ.</summary>
    [Fact]
    public void CostsWhatItDeclaresAndReportsEveryStep()
    {
        var sampler = CreateSampler();
        var d = new GaussianDenoiser();
        using var noise = Noise(1, 3);
        var steps = new List<SamplerStep>();
        var sigmas = Edm.KarrasSigmas(10);
        using var x = sampler.Sample(d, Request(noise, 10, callback: (in SamplerStep s) => steps.Add(s)));
        Assert.Equal(sampler.Evaluations(10), d.Evaluations);
        Assert.Equal(Enumerable.Range(0, 10), steps.Select(s => s.Index));
        Assert.All(steps, s => Assert.Equal(10, s.Count));
        Assert.All(steps, s => Assert.InRange(s.Sigma, sigmas[s.Index] * (1 - 1e-9), sigmas[0] * 2));
    }

    /// <summary>Cancellation stops the run between evaluations with <see cref="OperationCanceledException"/>.</summary>
    [Fact]
    public void StopsWhenCancelled()
    {
        using var noise = Noise(1, 4);
        using var cts = new CancellationTokenSource();
        var d = new GaussianDenoiser();
        Assert.ThrowsAny<OperationCanceledException>(() => CreateSampler().Sample(d,
            Request(noise, 20, callback: (in SamplerStep s) => { if (s.Index == 1) cts.Cancel(); }, ct: cts.Token)));
        Assert.True(d.Evaluations < CreateSampler().Evaluations(20));
    }

    /// <summary>From σ_max = 80 it reaches the exact end point of the probability-flow ODE of a Gaussian.</summary>
    [Fact]
    public void SolvesTheProbabilityFlowOde()
    {
        var d = new GaussianDenoiser();
        using var noise = Noise(256, 6);
        using var g = new Generator(6);
        using var x = CreateSampler().Sample(d, Request(noise, Steps, g));
        if (SolvesTheOde)
        {
            using var exact = d.ExactSolution(noise, 80);
            double rms = (x - exact).square().mean().sqrt().item<double>();
            Assert.True(rms < Tolerance, $"RMS error {rms:g3} against the exact solution exceeds {Tolerance:g3}");
        }
        else
        {
            Assert.InRange(x.mean().item<double>(), 0.3 - 0.05, 0.3 + 0.05);
            Assert.InRange(x.std().item<double>(), 0.5 * 0.85, 0.5 * 1.15);
        }
    }

    /// <summary>A run leaves no live tensors behind but its result.</summary>
    [Fact]
    public void LeavesNoLiveTensors()
    {
        using var noise = Noise(1, 7);
        using (var warm = CreateSampler().Sample(new GaussianDenoiser(), Request(noise, 2))) { }
        var stats = DisposeScopeManager.Statistics;
        stats.Reset();
        using (var x = CreateSampler().Sample(new GaussianDenoiser(), Request(noise, 50))) { }
        Assert.Equal(0, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }
}
