using EDiffI.Conditioning;
using EDiffI.Conformance;
using EDiffI.Denoising;
using EDiffI.Experts;
using static TorchSharp.torch;

namespace EDiffI.Tests;

/// <summary>Expert 0 below σ = 1, expert 1 from σ = 1 up.</summary>
internal sealed class ThresholdRouter : IExpertRouter
{
    public int ExpertCount => 2;
    public int Route(double sigma) => sigma < 1 ? 0 : 1;
}

public class ExpertTests
{
    [Fact]
    public void EachSampleIsDenoisedByTheExpertOfItsOwnSigma()
    {
        var low = new GaussianDenoiser(mean: -1, std: 0.5);
        var high = new GaussianDenoiser(mean: 2, std: 0.5);
        var ensemble = new ExpertEnsembleDenoiser([low, high], new ThresholdRouter());
        using var x = randn(4, 3, 4, 4, dtype: ScalarType.Float64);
        using var sigma = tensor(new[] { 0.3, 5.0, 0.9, 1.0 });
        using var y = ensemble.Denoise(x, sigma, ConditioningInputs.Unconditional);
        Assert.Equal(1, low.Evaluations);  // one batched call per expert, not one per sample
        Assert.Equal(1, high.Evaluations);
        for (int i = 0; i < 4; i++)
        {
            var expert = sigma[i].item<double>() < 1 ? low : high;
            using var alone = expert.Denoise(x.narrow(0, i, 1), sigma.narrow(0, i, 1), ConditioningInputs.Unconditional);
            Assert.True(alone.allclose(y.narrow(0, i, 1), 1e-12, 1e-12), $"sample {i}");
        }
    }

    /// <summary>Counts which overload of Denoise reached it.</summary>
    private sealed class OverloadSpy(IDenoiser inner) : IDenoiser
    {
        public int TensorCalls, HostCalls;
        public Tensor Denoise(Tensor x, Tensor sigma, ConditioningInputs conditioning) { TensorCalls++; return inner.Denoise(x, sigma, conditioning); }
        public Tensor Denoise(Tensor x, double sigma, ConditioningInputs conditioning) { HostCalls++; return inner.Denoise(x, sigma, conditioning); }
    }

    [Fact]
    public void HostSigmaPassesThroughGuidanceToTheExpertAndEqualsTheTensorPath()
    {
        // What samplers call: σ as a number goes through guidance and routing as a number (no read back from
        // the device), and gives bit for bit what the per-sample tensor path gives.
        var low = new OverloadSpy(new GaussianDenoiser(mean: -1, std: 0.5));
        var high = new OverloadSpy(new GaussianDenoiser(mean: 2, std: 0.5));
        IDenoiser guided = new ClassifierFreeGuidance(new ExpertEnsembleDenoiser([low, high], new ThresholdRouter()), 2.0);
        using var image = ones(2, 4);
        var conditioning = new ConditioningInputs(ClipImage: image);
        using var x = randn(2, 3, 4, 4, dtype: ScalarType.Float64);
        foreach (double sigma in new[] { 0.5, 3.0 })
        {
            using var byHost = guided.Denoise(x, sigma, conditioning);
            using var sigmas = full(2, sigma, dtype: ScalarType.Float64);
            using var byTensor = guided.Denoise(x, sigmas, conditioning);
            Assert.True(byHost.equal(byTensor).all().item<bool>(), $"σ = {sigma}");
        }
        Assert.Equal((1, 1), (low.HostCalls, high.HostCalls));
        Assert.Equal((1, 1), (low.TensorCalls, high.TensorCalls));
    }

    [Fact]
    public void MismatchedRouterIsRefused()
    {
        var ensemble = new ExpertEnsembleDenoiser([new GaussianDenoiser()], new ThresholdRouter());
        using var x = zeros(1, 3, 4, 4, dtype: ScalarType.Float64);
        using var s = ones(1, dtype: ScalarType.Float64);
        Assert.Throws<InvalidOperationException>(() => ensemble.Denoise(x, s, ConditioningInputs.Unconditional));
    }
}

public class ExpertEnsembleConformance : DenoiserConformance
{
    protected override IDenoiser CreateDenoiser() =>
        new ExpertEnsembleDenoiser([new GaussianDenoiser(-1, 0.5), new GaussianDenoiser(2, 0.5)], new ThresholdRouter());
    protected override long[] SampleShape => [3, 4, 4];
    protected override ConditioningInputs ConditioningForTwo() => ConditioningInputs.Unconditional;
}
