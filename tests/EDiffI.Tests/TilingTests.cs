using EDiffI.Conditioning;
using EDiffI.Host.Pipeline;
using EDiffI.Networks;
using EDiffI.Plugins.SuperResolution;
using EDiffI.Plugins.UNet;
using EDiffI.SuperResolution;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace EDiffI.Tests;

/// <summary>Seamless tiling: circular padding, wrap-around resampling, windows, and the seam ratio.</summary>
public class TilingTests
{
    // A tiny U-Net (one downsampling) with random weights everywhere, so every layer shapes the output.
    private static INetwork TinyNetwork()
    {
        manual_seed(11);
        var network = new UNetFamily().Create("tiny", 16, 32);
        using var noGrad = no_grad();
        foreach (var p in network.Module.parameters()) p.add_(randn_like(p) * 0.05);
        return network;
    }

    private static Tensor Run(INetwork network, Tensor x, TileAxes axes)
    {
        using var sigma = full(x.shape[0], 1.0, dtype: ScalarType.Float32);
        using var cNoise = sigma.log() / 4;
        var conditioning = axes == TileAxes.None ? new ConditioningInputs() : new ConditioningInputs().With(new TilingMode(axes));
        return network.Forward(x, sigma, cNoise, conditioning);
    }

    [Theory]
    [InlineData(TileAxes.X)]
    [InlineData(TileAxes.Y)]
    [InlineData(TileAxes.Both)]
    public void WithCircularPaddingTheOutputOfAPeriodicInputIsPeriodic(TileAxes axes)
    {
        using var network = TinyNetwork();
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var x = randn(2, 3, 16, 16, generator: new Generator(3));
        var y = Run(network, x, axes);
        // A periodic image is one period of a torus: shifting it by whole pooling cells (2 pixels) shifts the output alike.
        foreach (var (axis, dim) in new[] { (TileAxes.X, 3L), (TileAxes.Y, 2L) })
        {
            var shifted = Run(network, x.roll(6, dim), axes);
            double error = (shifted - y.roll(6, dim)).abs().max().item<float>();
            if (axes.HasFlag(axis)) Assert.True(error < 1e-4, $"{axis}: a shift of the input moved the output by {error} beyond the shift");
            else Assert.True(error > 1e-3, $"{axis} does not wrap, yet the output is shift-equivariant ({error})");
        }
        // Without tiling, the zero padding breaks the symmetry along both axes.
        var flat = Run(network, x.roll(6, 3), TileAxes.None);
        Assert.True((flat - Run(network, x, TileAxes.None).roll(6, 3)).abs().max().item<float>() > 1e-3);
    }

    [Fact]
    public void WrapAroundBicubicEqualsBicubicOfTheRepeatedImage()
    {
        using var scope = NewDisposeScope();
        var low = rand(1, 3, 8, 8, generator: new Generator(4));
        var wrapped = Tiling.Bicubic(low, 32, 32, TileAxes.Both);
        // The middle copy of a 3×3 repeat sees true neighbours across every edge.
        var repeated = low.repeat(1, 1, 3, 3);
        var reference = F.interpolate(repeated, [96, 96], mode: InterpolationMode.Bicubic, align_corners: false)[.., .., 32..64, 32..64];
        Assert.True((wrapped - reference).abs().max().item<float>() < 1e-5);
        // One axis: wraps along x, clamps along y exactly as plain bicubic does.
        var xOnly = Tiling.Bicubic(low, 32, 32, TileAxes.X);
        var rowRepeat = F.interpolate(low.repeat(1, 1, 1, 3), [32, 96], mode: InterpolationMode.Bicubic, align_corners: false)[.., .., .., 32..64];
        Assert.True((xOnly - rowRepeat).abs().max().item<float>() < 1e-5);
        Assert.Throws<ArgumentException>(() => Tiling.Bicubic(low, 30, 30, TileAxes.Both));
    }

    [Fact]
    public void TheSeamRatioIsOneForAPeriodicRampAndLargeForACut()
    {
        using var scope = NewDisposeScope();
        // A triangle wave, one period across the width: every step, the wrap's included, is one unit.
        var periodic = (arange(64, dtype: ScalarType.Float64) - 32).abs().unsqueeze(0).expand(8, 64);
        Assert.Equal(1, Tiling.SeamRatio(periodic, TileAxes.X), 9);
        var ramp = arange(64, dtype: ScalarType.Float64).unsqueeze(0).expand(8, 64) / 64; // jumps from 1 back to 0 at the edge
        Assert.True(Tiling.SeamRatio(ramp, TileAxes.X) > 50);
        Assert.True(Tiling.SeamRatio(ramp.t(), TileAxes.Y) > 50);
        Assert.Equal(1, Tiling.SeamRatio(ramp, TileAxes.Y), 9); // constant along y: no seam and no interior difference count as seamless
    }

    [Theory]
    [InlineData(TileAxes.None)]
    [InlineData(TileAxes.Both)]
    public void WindowedSuperResolutionMatchesTheWholeImageWithoutSeams(TileAxes axes)
    {
        using var stage = TinyStage.Create();
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var (low, eps, x) = TinyStage.Inputs();
        var whole = stage.ConditionOn(low, 0.1, eps, new StageLayout(axes)).Denoise(x, 0.5, new ConditioningInputs());
        var windows = stage.ConditionOn(low, 0.1, eps, new StageLayout(axes, Window: 16, Overlap: 8)).Denoise(x, 0.5, new ConditioningInputs());
        double mean = (windows - whole).abs().mean().item<double>(), scale = whole.abs().mean().item<double>();
        // Stated tolerance: 8% of the output's mean magnitude (measured on this 32² tiny stage: 2% without wrap, 6% with),
        // the price of zero padding at window borders and per-window normalisation statistics.
        Assert.True(mean < 0.08 * scale, $"windows differ from the whole image by {mean:0.0000} on average (outputs average {scale:0.000})");
        // No seam where windows meet: the difference to the whole image is no larger on window borders than elsewhere.
        var diff = (windows - whole).abs().mean([0, 1]);
        double border = diff[.., 16].mean().item<double>(), inside = diff.mean().item<double>();
        Assert.True(border < 3 * inside + 1e-6, $"border columns differ by {border:0.0000}, the image by {inside:0.0000}");
    }

    [Fact]
    public void WindowsAreChosenOnlyWhenTheBudgetIsTooSmall()
    {
        using var stage = TinyStage.Create();
        double perPixel = stage.Network.InferenceBytesPerPixel!.Value;
        Assert.True(perPixel > 0);
        // 32² pixels at that rate fit a megabyte easily; a budget a hundredth of the image forces windows.
        Assert.True(perPixel * 32 * 32 < 4 * 1024 * 1024);
    }

    [Fact]
    public void TheServiceRefusesTilingForANetworkThatCannotWrap()
    {
        Assert.False(((INetwork)new NoWrapNetwork()).CanTile);
        Assert.Equal(TileAxes.Both, Tiling.Parse("xy"));
        Assert.Equal(TileAxes.X, Tiling.Parse(" X "));
        Assert.Null(Tiling.Parse("diagonal"));
    }

    // Only the default members of INetwork matter here.
    private sealed class NoWrapNetwork : INetwork
    {
        public string Kind => "flat";
        public TorchSharp.torch.nn.Module Module => throw new NotSupportedException();
        public int Resolution => 8;
        public int Channels => 3;
        public ConditioningWidths Conditioning => new(0, 0, 0, 0);
        public ScalarType ComputeType { get; set; }
        public string ConfigJson => "{}";
        public void Save(string folder, ScalarType? dtype = null) => throw new NotSupportedException();
        public Tensor Forward(Tensor xIn, Tensor sigma, Tensor cNoise, ConditioningInputs conditioning) => xIn.alias();
        public void Dispose() { }
    }
}
