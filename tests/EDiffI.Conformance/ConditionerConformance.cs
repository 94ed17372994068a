using EDiffI.Conditioning;
using EDiffI.Encoders;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace EDiffI.Conformance;

/// <summary>
/// What every <see cref="IConditioner"/> must do, a third party's too: subclass it with the conditioner, a
/// model it can serve and a valid input. Shapes and dtypes follow the declared slot, the dropped stream
/// is what conditioning dropout makes, the output is deterministic, and nothing leaks.
/// </summary>
public abstract class ConditionerConformance
{
    /// <summary>The conditioner under test.</summary>
    protected abstract IConditioner CreateConditioner();

    /// <summary>A valid input for <see cref="Prompt"/>.</summary>
    protected abstract ConditionerInput ValidInput();

    /// <summary>A model the conditioner can serve; by default 16×16 with no encoders and the conditioner's own slot.</summary>
    protected virtual ConditionerModel Model(IConditioner conditioner) => new(16, new Dictionary<TextStream, ITextEncoder>(), null, false,
        conditioner.Slot.IsNone ? new Dictionary<string, ConditionerSlot>() : new Dictionary<string, ConditionerSlot> { [conditioner.Name] = conditioner.Slot });

    /// <summary>The prompt the input goes with.</summary>
    protected virtual string Prompt => "red bricks above blue water";

    private ConditionerOutput Run(IConditioner c, ConditionerInput input, int batch) =>
        c.Condition(input, new ConditionerContext(Prompt, batch, CPU, Model(c), _ => { }));

    /// <summary>A name requests can use, help text, and a model it can serve.</summary>
    [Fact]
    public void DescribesItself()
    {
        var c = CreateConditioner();
        Assert.False(string.IsNullOrWhiteSpace(c.Name));
        Assert.Equal(c.Name.ToLowerInvariant(), c.Name);
        Assert.False(string.IsNullOrWhiteSpace(c.InputHelp));
        Assert.Null(c.Unavailable(Model(c)));
        c.Check(ValidInput(), Prompt, Model(c));
    }

    /// <summary>A stream has exactly the parts the slot declares, at its widths, one row or one per sample, float32, boolean mask.</summary>
    [Fact]
    public void ShapesAndDtypesFollowTheSlot()
    {
        var c = CreateConditioner();
        using var scope = NewDisposeScope();
        var output = Run(c, ValidInput(), 3);
        if (c.Slot.IsNone)
        {
            Assert.Null(output.Stream);
            Assert.True(output.ImageEmbedding is not null || output.Extras is { Count: > 0 } || output.Processor is not null,
                "a conditioner without a slot must produce an image embedding, extras or a processor");
            return;
        }
        var stream = Assert.IsType<ConditioningStream>(output.Stream);
        stream.Validate(c.Name);
        Assert.Contains(stream.BatchSize, new long[] { 1, 3 });
        Assert.Equal(c.Slot.TokenWidth > 0, stream.Tokens is not null);
        Assert.Equal(c.Slot.PooledWidth > 0, stream.Pooled is not null);
        Assert.Equal(c.Slot.SpatialChannels > 0, stream.Spatial is not null);
        if (stream.Tokens is { } t)
        {
            Assert.Equal(c.Slot.TokenWidth, t.shape[2]);
            Assert.Equal(ScalarType.Float32, t.dtype);
            Assert.True(t.isfinite().all().item<bool>());
            Assert.True(stream.Mask!.any(1).all().item<bool>(), "every sample needs a real token");
        }
        if (stream.Pooled is { } p) Assert.Equal((c.Slot.PooledWidth, ScalarType.Float32), (p.shape[1], p.dtype));
        if (stream.Spatial is { } m) Assert.Equal((c.Slot.SpatialChannels, 16L, 16L), (m.shape[1], m.shape[2], m.shape[3]));
    }

    /// <summary>Dropping every sample (classifier-free training) equals the dropped stream: zeros and nothing to attend to.</summary>
    [Fact]
    public void NullInputEqualsDropout()
    {
        var c = CreateConditioner();
        if (c.Slot.IsNone) return; // built-in streams: their dropout is the network's
        using var scope = NewDisposeScope();
        var stream = Run(c, ValidInput(), 2).Stream!.Expand(2);
        var kept = stream.KeepWhere(zeros(2, dtype: ScalarType.Bool));
        var dropped = stream.Dropped(2);
        foreach (var (a, b) in new[] { (kept.Tokens, dropped.Tokens), (kept.Pooled, dropped.Pooled), (kept.Spatial, dropped.Spatial) })
            if (a is not null) Assert.True(a.equal(b!).all().item<bool>());
        if (kept.Mask is not null) Assert.False(kept.Mask.any().item<bool>());
    }

    /// <summary>The same input gives the same output.</summary>
    [Fact]
    public void IsDeterministic()
    {
        var c = CreateConditioner();
        using var scope = NewDisposeScope();
        var a = Run(c, ValidInput(), 2);
        var b = Run(c, ValidInput(), 2);
        foreach (var (x, y) in new[] { (a.Stream?.Tokens, b.Stream?.Tokens), (a.Stream?.Pooled, b.Stream?.Pooled), (a.Stream?.Spatial, b.Stream?.Spatial), (a.ImageEmbedding, b.ImageEmbedding) })
            if (x is not null) Assert.True(x.equal(y!).all().item<bool>());
    }

    /// <summary>A malformed input is refused with a message (an <see cref="ArgumentException"/> or the host's user error), not a crash.</summary>
    [Fact]
    public void RefusesAMalformedInputWithAMessage()
    {
        var c = CreateConditioner();
        var e = Record.Exception(() => c.Check(new ConditionerInput(), Prompt, Model(c)));
        Assert.NotNull(e);
        Assert.False(e is NullReferenceException or IndexOutOfRangeException or InvalidCastException, $"crashed with {e.GetType().Name}");
        Assert.False(string.IsNullOrWhiteSpace(e.Message));
    }

    /// <summary>Conditioning and disposing the output leaves no live tensors.</summary>
    [Fact]
    public void LeavesNoLiveTensors()
    {
        var c = CreateConditioner();
        Dispose(Run(c, ValidInput(), 2)); // warm up caches
        var stats = DisposeScopeManager.Statistics;
        stats.Reset();
        Dispose(Run(c, ValidInput(), 2));
        Assert.Equal(0, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }

    private static void Dispose(ConditionerOutput output)
    {
        output.Stream?.Dispose();
        output.ImageEmbedding?.Dispose();
        foreach (var extra in output.Extras?.Values.OfType<IDisposable>() ?? []) extra.Dispose();
    }
}
