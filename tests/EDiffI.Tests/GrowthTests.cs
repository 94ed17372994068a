using EDiffI.Host.Runtime;
using EDiffI.Host.Training;
using EDiffI.IO;
using EDiffI.Plugins.UNet;
using static TorchSharp.torch;

namespace EDiffI.Tests;

/// <summary><c>train --finetune MODEL --grow SHAPE</c>: a trained expert grown by attention at another resolution.</summary>
public class GrowthTests
{
    // A "trained" tiny network: every weight away from its initialisation, so the comparison is not between zeros.
    private static EDiffIUNet Trained() => UNetTests.Randomised(11);

    [Fact]
    public void AGrownNetworkComputesWhatTheTrainedOneDidAndItsNewLayersAreLive()
    {
        using var trained = Trained();
        Assert.Equal([8], TinyModel.Config.AttentionResolutions);
        using var grown = new EDiffIUNet(TinyModel.Config with { AttentionResolutions = [16, 8] });
        var (state, added) = NetworkGrowth.Grow(trained, grown);
        using var disposeState = state;
        // The 16² blocks gained self- and cross-attention; nothing else is new.
        Assert.NotEmpty(added);
        Assert.All(added, name => Assert.Contains("16x16", name));
        Assert.Contains(added, name => name.EndsWith(".xproj.weight", StringComparison.Ordinal));
        Assert.Equal(grown.Module.state_dict().Count, state.Weights.Count);
        SafeTensorsWeights.LoadInto(grown.Module, state.Weights, "the grown state");

        trained.eval();
        grown.eval();
        using var noGrad = no_grad();
        manual_seed(5);
        using var x = randn(2, 3, 16, 16);
        using var cNoise = tensor(new[] { -0.6f, 0.4f });
        using var sigma = (cNoise * 4).exp();
        var cond = UNetTests.Prompts("red stripes with a blue circle", "green planks");
        using var before = trained.Forward(x, sigma, cNoise, cond);
        using var after = grown.Forward(x, sigma, cNoise, cond);
        Assert.True(before.abs().max().item<float>() > 1e-3f, "the trained network's output should not be zero");
        Assert.True(after.allclose(before, 1e-5, 1e-6), $"grown and trained differ by {(after - before).abs().max().item<float>()}");

        // Training moves the new projections; once they are non-zero the new attention changes the output.
        foreach (var (name, p) in grown.Module.named_parameters())
            if (added.Contains(name)) p.add_(randn_like(p) * 0.05);
        using var moved = grown.Forward(x, sigma, cNoise, cond);
        Assert.True((moved - before).abs().max().item<float>() > 1e-4f, "the new attention layers do not reach the output");
    }

    [Fact]
    public void AShapeThatChangesATrainedTensorIsRefusedWithTheTensorNamed()
    {
        using var trained = Trained();
        using var wider = new EDiffIUNet(TinyModel.Config with { ModelChannels = 64 });
        var e = Assert.Throws<UserException>(() => NetworkGrowth.Grow(trained, wider));
        Assert.Contains("cannot grow", e.Message);
        Assert.Contains("in the trained network and", e.Message);
        Assert.Contains("only adds layers", e.Message);
    }

    [Fact]
    public void Compact32IsCompactWithAttentionAt32AndGrowsFromIt()
    {
        var compact = UNetConfig.Preset("compact");
        var grown = UNetConfig.Preset("compact32");
        Assert.Equal([32, 16, 8], grown.AttentionResolutions);
        Assert.Equal((compact with { AttentionResolutions = grown.AttentionResolutions }).ToJson(), grown.ToJson());
        using var a = new EDiffIUNet(compact);
        using var b = new EDiffIUNet(grown);
        var (state, added) = NetworkGrowth.Grow(a, b);
        using var disposeState = state;
        Assert.All(added, name => Assert.Contains("32x32", name));
    }
}
