using EDiffI.Conditioning;
using EDiffI.Denoising;
using Xunit;
using static TorchSharp.torch;

namespace EDiffI.Conformance;

/// <summary>What every <see cref="IDenoiser"/> (a network behind preconditioning, or a wrapper) must do.</summary>
public abstract class DenoiserConformance
{
    /// <summary>The denoiser under test.</summary>
    protected abstract IDenoiser CreateDenoiser();

    /// <summary>Shape [C, H, W] of one sample.</summary>
    protected abstract long[] SampleShape { get; }

    /// <summary>Conditioning for a batch of two different prompts.</summary>
    protected abstract ConditioningInputs ConditioningForTwo();

    private Tensor X(int batch)
    {
        using var g = new Generator(1);
        return randn([batch, .. SampleShape], ScalarType.Float64, generator: g);
    }

    /// <summary>Output has the input's shape, dtype and device, and is finite, from σ = 0.002 to 80.</summary>
    [Fact]
    public void KeepsShapeAndDtype()
    {
        using var noGrad = no_grad();
        var d = CreateDenoiser();
        using var x = X(2);
        foreach (double s in new[] { 0.002, 1, 80 })
        {
            using var sigma = full(2, s, dtype: ScalarType.Float64);
            using var y = d.Denoise(x * s, sigma, ConditioningForTwo());
            Assert.Equal(x.shape, y.shape);
            Assert.Equal(ScalarType.Float64, y.dtype);
            Assert.True(y.isfinite().all().item<bool>());
        }
    }

    /// <summary>Same inputs, same output.</summary>
    [Fact]
    public void IsDeterministic()
    {
        using var noGrad = no_grad();
        var d = CreateDenoiser();
        using var x = X(2);
        using var sigma = full(2, 2.0, dtype: ScalarType.Float64);
        using var a = d.Denoise(x, sigma, ConditioningForTwo());
        using var b = d.Denoise(x, sigma, ConditioningForTwo());
        Assert.True(a.equal(b).all().item<bool>());
    }

    /// <summary>Accepts the unconditional input (every stream dropped), as classifier-free guidance needs.</summary>
    [Fact]
    public void AcceptsUnconditional()
    {
        using var noGrad = no_grad();
        using var x = X(2);
        using var sigma = full(2, 2.0, dtype: ScalarType.Float64);
        using var y = CreateDenoiser().Denoise(x, sigma, ConditioningInputs.Unconditional);
        Assert.Equal(x.shape, y.shape);
    }

    /// <summary>Samples of a batch do not influence each other, and each may have its own σ.</summary>
    [Fact]
    public void BatchMembersAreIndependent()
    {
        using var noGrad = no_grad();
        var d = CreateDenoiser();
        using var x = X(2);
        using var sigma = tensor(new[] { 0.5, 5.0 });
        var both = ConditioningForTwo();
        using var together = d.Denoise(x, sigma, both);
        for (int i = 0; i < 2; i++)
        {
            var one = both.SelectRows(tensor(new long[] { i }));
            using var alone = d.Denoise(x.narrow(0, i, 1), sigma.narrow(0, i, 1), one);
            Assert.True(alone.allclose(together.narrow(0, i, 1), 1e-4, 1e-4), $"sample {i} changes when batched");
        }
    }

    /// <summary>At a tiny σ the noisy input is already clean: D(x; σ) ≈ x (c_skip → 1, c_out → 0).</summary>
    [Fact]
    public void AtTinySigmaReturnsTheInput()
    {
        using var noGrad = no_grad();
        using var x = X(2);
        using var sigma = full(2, 1e-4, dtype: ScalarType.Float64);
        using var y = CreateDenoiser().Denoise(x, sigma, ConditioningForTwo());
        Assert.True(y.allclose(x, 1e-2, 1e-2));
    }
}
