using EDiffI.Conditioning;
using EDiffI.Denoising;
using EDiffI.Networks;
using EDiffI.SuperResolution;
using static TorchSharp.torch;

namespace EDiffI.Tests;

/// <summary>The per-evaluation roll of a tiling image (<see cref="TileShifts"/>, <see cref="ShiftedTilingDenoiser"/>).</summary>
public class TileShiftTests
{
    // D(x) = x / 2 + 1 at every pixel alike: any roll commutes with it.
    private sealed class Pointwise : IDenoiser
    {
        public int Calls;
        public Tensor Denoise(Tensor x, Tensor sigma, ConditioningInputs conditioning) { Calls++; return x / 2 + 1; }
    }

    // Marks the first column of whatever it is given: shows where the image sat under the network.
    private sealed class MarksColumnZero : IDenoiser
    {
        public Tensor Denoise(Tensor x, Tensor sigma, ConditioningInputs conditioning)
        {
            var y = x.clone();
            y[.., .., .., 0] += 100;
            return y;
        }
    }

    [Fact]
    public void SeedMixIsSplitMix64()
    {
        // SplitMix64 seeded with 0: its state steps by the golden gamma, its first two outputs are these (Vigna's reference).
        Assert.Equal(0xE220A8397B1DCDAFUL, EDiffI.Sampling.SeedMix.Of(1, 0));
        Assert.Equal(0x6E789E6AA1B965F4UL, EDiffI.Sampling.SeedMix.Of(2, 0));
    }

    [Fact]
    public void OffsetsAreAFunctionOfTheSeedAndTheEvaluationWithinTheImageAndOnlyAlongWrappingAxes()
    {
        var a = new TileShifts(TileAxes.Both, 7);
        var b = new TileShifts(TileAxes.Both, 7);
        var first = Enumerable.Range(0, 64).Select(_ => a.Next(48, 64)).ToList();
        Assert.Equal(first, Enumerable.Range(0, 64).Select(_ => b.Next(48, 64)).ToList());
        Assert.All(first, o => { Assert.InRange(o.Rows, 0, 47); Assert.InRange(o.Columns, 0, 63); });
        Assert.True(first.Select(o => o.Columns).Distinct().Count() > 30, "the offsets hardly vary");
        Assert.NotEqual(first, Enumerable.Range(0, 64).Select(_ => new TileShifts(TileAxes.Both, 8).Next(48, 64)).ToList());
        var xOnly = new TileShifts(TileAxes.X, 7);
        Assert.All(Enumerable.Range(0, 32).Select(_ => xOnly.Next(48, 64)), o => Assert.Equal(0, o.Rows));
        var yOnly = new TileShifts(TileAxes.Y, 7);
        Assert.All(Enumerable.Range(0, 32).Select(_ => yOnly.Next(48, 64)), o => Assert.Equal(0, o.Columns));
    }

    [Fact]
    public void ARollThatCommutesWithTheDenoiserChangesNothingAndTheEstimateIsRolledBack()
    {
        using var scope = NewDisposeScope();
        var x = randn(2, 3, 16, 24, generator: new Generator(1));
        var inner = new Pointwise();
        var shifted = new ShiftedTilingDenoiser(inner, new TileShifts(TileAxes.Both, 3));
        for (int i = 0; i < 5; i++)
            Assert.Equal(0, (shifted.Denoise(x, 1.0, new ConditioningInputs()) - (x / 2 + 1)).abs().max().item<float>(), 6);
        Assert.Equal(5, inner.Calls);

        // A position-dependent denoiser: its mark lands where column 0 of the rolled image came from.
        var twin = new TileShifts(TileAxes.Both, 3);
        var marking = new ShiftedTilingDenoiser(new MarksColumnZero(), new TileShifts(TileAxes.Both, 3));
        var marked = new HashSet<long>();
        for (int i = 0; i < 8; i++)
        {
            var (_, columns) = twin.Next(16, 24);
            var y = marking.Denoise(x, 1.0, new ConditioningInputs()) - x;
            long expected = (24 - columns) % 24;
            Assert.Equal(100, y[.., .., .., expected].mean().item<float>(), 3);
            Assert.Equal(100 * 16 * 2 * 3, y.abs().sum().item<float>(), 0); // one column marked, nothing else moved
            marked.Add(expected);
        }
        Assert.True(marked.Count > 3, "the mark stayed in a few places");
    }

    [Fact]
    public void TheSuperResolutionStageRollsItsLowResolutionStreamWithTheImage()
    {
        using var stage = TinyStage.Create();
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var (low, eps, x) = TinyStage.Inputs();
        // A seed whose first offsets are whole cells of the stage's network (8 pixels at 32, two low-resolution pixels),
        // which the circularly padded network commutes with exactly: rolled together, image and stream give the unrolled
        // result; had only the image been rolled, the image and its low-resolution guide would disagree.
        long seed = Enumerable.Range(0, 10_000).First(s =>
        {
            var (r, c) = new TileShifts(TileAxes.Both, s).Next(32, 32);
            return r % 8 == 0 && c % 8 == 0 && (r != 0 || c != 0);
        });
        var plain = stage.ConditionOn(low, 0.1, eps, new StageLayout(TileAxes.Both)).Denoise(x, 0.5, new ConditioningInputs());
        var rolled = stage.ConditionOn(low, 0.1, eps, new StageLayout(TileAxes.Both, Shifts: new TileShifts(TileAxes.Both, seed)))
            .Denoise(x, 0.5, new ConditioningInputs());
        double scale = plain.abs().mean().item<double>();
        Assert.True((rolled - plain).abs().max().item<double>() < 1e-4 * Math.Max(1, scale), "rolling by whole cells changed the result");

        // An offset off the cells' grid changes the estimate, yet only a little: the roll really happened, aligned.
        long offGrid = Enumerable.Range(0, 10_000).First(s => new TileShifts(TileAxes.Both, s).Next(32, 32) is var (r, c) && r % 8 == 3 && c % 8 == 5);
        var moved = stage.ConditionOn(low, 0.1, eps, new StageLayout(TileAxes.Both, Shifts: new TileShifts(TileAxes.Both, offGrid)))
            .Denoise(x, 0.5, new ConditioningInputs());
        double change = (moved - plain).abs().mean().item<double>();
        Assert.True(change > 1e-6, "an off-grid roll left the estimate unchanged");
        Assert.True(change < 0.25 * scale, $"an off-grid roll changed the estimate by {change:0.0000} against outputs of {scale:0.000}: image and stream misaligned?");
    }
}
