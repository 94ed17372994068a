using EDiffI.Attention;
using EDiffI.Conditioning;
using EDiffI.Conformance;
using EDiffI.Denoising;
using EDiffI.Encoders;
using EDiffI.Plugins.Sampling;
using EDiffI.Plugins.TextHash;
using EDiffI.Plugins.UNet;
using EDiffI.Sampling;
using Microsoft.Extensions.Options;
using static TorchSharp.torch;

namespace EDiffI.Tests;

// The shipped implementations run the same conformance suites a plugin author would.

public class HeunConformance : SamplerConformance
{
    protected override ISampler CreateSampler() => new HeunSampler();
    protected override double Tolerance => 0.01; // measured 0.0079 at 32 steps
}

public class StochasticHeunConformance : SamplerConformance
{
    protected override ISampler CreateSampler() =>
        new HeunSampler(Options.Create(new HeunSamplerOptions { SChurn = 40, STmin = 0.05, STmax = 50, SNoise = 1.003 }));
    protected override bool SolvesTheOde => false;
}

public class EulerConformance : SamplerConformance
{
    protected override ISampler CreateSampler() => new EulerSampler();
    protected override int Steps => 64;
    protected override double Tolerance => 0.03; // measured 0.022 at 64 steps
}

public class DpmSolverConformance : SamplerConformance
{
    protected override ISampler CreateSampler() => new DpmSolverSampler.DpmSolverPlusPlus2MSampler();
    protected override double Tolerance => 0.015; // measured 0.0086 at 32 steps
}

public class UNetDenoiserConformance : DenoiserConformance
{
    protected override IDenoiser CreateDenoiser()
    {
        manual_seed(30);
        var model = new EDiffIUNet(TinyModel.Config);
        using var noGrad = no_grad();
        foreach (var p in model.parameters()) p.add_(randn_like(p) * 0.05);
        return new PreconditionedDenoiser(model);
    }

    protected override long[] SampleShape => [3, 16, 16];

    protected override ConditioningInputs ConditioningForTwo()
    {
        using var t5 = TinyModel.T5();
        using var clip = TinyModel.Clip();
        string[] prompts = ["red stripes", "a blue square on green"];
        return new ConditioningInputs(t5.Encode(prompts, CPU), clip.Encode(prompts, CPU));
    }
}

public class GuidedDenoiserConformance : UNetDenoiserConformance
{
    protected override IDenoiser CreateDenoiser() => new ClassifierFreeGuidance(base.CreateDenoiser(), 3);
}

public class WordHashConformance : TextEncoderConformance
{
    protected override ITextEncoder CreateEncoder() => new WordHashTextEncoder(new WordHashOptions { Dimension = 16, MaxTokens = 6 });
}

public class DefaultAttentionConformance : AttentionProcessorConformance
{
    protected override ICrossAttentionProcessor CreateProcessor() => DefaultCrossAttentionProcessor.Instance;
}
