using EDiffI.Attention;
using EDiffI.Conditioning;
using Xunit;
using static TorchSharp.torch;

namespace EDiffI.Conformance;

/// <summary>What every <see cref="ICrossAttentionProcessor"/> must do.</summary>
public abstract class AttentionProcessorConformance
{
    /// <summary>The processor under test.</summary>
    protected abstract ICrossAttentionProcessor CreateProcessor();

    /// <summary>Conditioning the processor expects (for example with its masks attached); by default none.</summary>
    protected virtual ConditioningInputs Conditioning => ConditioningInputs.Unconditional;

    private static CrossAttentionInputs Inputs(Tensor k, Tensor v, Tensor mask, ConditioningInputs c)
    {
        using var g = new Generator(3);
        var q = randn([2, 2, 16, 8], generator: g);
        var layout = new ContextLayout(0, 3, 3, 3, 6, 7);
        return new CrossAttentionInputs(q, k, v, mask, new CrossAttentionLayer("test", 4, 4, 2), layout, full(2, 1.0f), c);
    }

    private static (Tensor K, Tensor V, Tensor Mask) Context(ulong seed)
    {
        using var g = new Generator(seed);
        var mask = ones(2, 8, dtype: ScalarType.Bool);
        mask[0, 2] = false; // a padded position
        mask[1, 5] = false;
        return (randn([2, 2, 8, 8], generator: g), randn([2, 2, 8, 8], generator: g), mask);
    }

    /// <summary>The output has the query's shape and is finite.</summary>
    [Fact]
    public void OutputHasTheQueryShape()
    {
        var (k, v, mask) = Context(1);
        var inputs = Inputs(k, v, mask, Conditioning);
        using var o = CreateProcessor().Attend(inputs);
        Assert.Equal(inputs.Query.shape, o.shape);
        Assert.True(o.isfinite().all().item<bool>());
    }

    /// <summary>Masked (padded) context tokens have no influence.</summary>
    [Fact]
    public void IgnoresMaskedTokens()
    {
        var (k, v, mask) = Context(2);
        using var a = CreateProcessor().Attend(Inputs(k, v, mask, Conditioning));
        var k2 = k.clone();
        var v2 = v.clone();
        k2[0, .., 2] = full(2, 8, 50f);
        v2[1, .., 5] = full(2, 8, -50f);
        using var b = CreateProcessor().Attend(Inputs(k2, v2, mask, Conditioning));
        Assert.True(a.allclose(b, 1e-5, 1e-5));
    }
}
