using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using EDiffI.Conditioning;
using EDiffI.Denoising;
using EDiffI.Host.Runtime;
using EDiffI.Diagnostics;
using EDiffI.Diffusion;
using EDiffI.Encoders;
using EDiffI.Experts;
using EDiffI.Host.Pipeline;
using EDiffI.Networks;
using EDiffI.Sampling;
using Spectre.Console;
using Spectre.Console.Cli;
using TorchSharp;
using static TorchSharp.torch;

namespace EDiffI.Host.Commands;

/// <summary>Settings of <c>bench</c>.</summary>
public sealed class BenchSettings : DeviceSettings
{
    [CommandOption("--unet <SHAPE>")]
    [Description("adm64 (ADM ImageNet-64, no text), ediffi64 (adm64 with eDiff-I conditioning), small or tiny")]
    public string UNet { get; init; } = "small";

    [CommandOption("--batch <N>")]
    public int Batch { get; init; } = 8;

    [CommandOption("--sampler <NAME>")]
    [Description("sampler of the timed sampling run (default heun)")]
    public string Sampler { get; init; } = "heun";

    [CommandOption("--iters <N>")]
    [Description("timed network evaluations (after warm-up)")]
    public int Iterations { get; init; } = 10;

    [CommandOption("--steps <N>")]
    [Description("steps of the timed sampling run")]
    public int Steps { get; init; } = 32;

    [CommandOption("--experts <N>")]
    [Description("also time an ensemble of N experts of this shape behind the σ router (resident and low-memory) against one network")]
    public int Experts { get; init; } = 1;

    [CommandOption("--machine <TEXT>")]
    [Description("name of the machine, written into the report")]
    public string Machine { get; init; } = "unnamed machine";

    [CommandOption("--report <FILE>")]
    [Description("markdown file to append the results to")]
    public string? Report { get; init; }
}

/// <summary><c>bench</c>: time per denoiser evaluation, per image, FLOP rate, and the sampler's overhead.</summary>
public sealed class BenchCommand(IEnumerable<ISampler> samplers, ModelCatalog catalog) : Command<BenchSettings>
{
    /// <inheritdoc />
    public override int Execute(CommandContext context, BenchSettings s, CancellationToken cancellationToken)
    {
        TorchRuntime.UseTorchLibrary(s.TorchLib);
        var device = TorchRuntime.ParseDevice(s.Device);
        var dtype = TorchRuntime.ComputeType(device, s.Precision);
        var family = catalog.Family("ediffi-unet");
        INetwork network;
        try
        {
            network = family.Create(s.UNet);
        }
        catch (ArgumentException e)
        {
            throw new UserException(e.Message, e);
        }
        using var noGrad = no_grad();
        using var model = network;
        model.Module.eval();
        model.Module.to(device);
        if (dtype != ScalarType.Float32) model.Module.to(dtype);
        model.ComputeType = dtype;
        long parameters = model.Module.parameters().Sum(p => p.numel());
        int resolution = model.Resolution;
        var denoiser = new PreconditionedDenoiser(model);
        int textDim = model.Conditioning.T5;
        using var encoder = catalog.CreateEncoder(new TextEncoderSpec { Dimension = Math.Max(2, textDim) }, null);
        var cond = textDim > 0
            ? new ConditioningInputs(encoder.Encode(Enumerable.Repeat("red bricks with white mortar", s.Batch).ToList(), device),
                                     encoder.Encode(Enumerable.Repeat("red bricks with white mortar", s.Batch).ToList(), device))
            : ConditioningInputs.Unconditional;

        // FLOPs of one image's evaluation, counted on a batch of one.
        long flops;
        using (var counter = FlopCounter.Start())
        using (var scope = NewDisposeScope())
        {
            var one = cond.SelectRows(tensor(new long[] { 0 }));
            model.Forward(randn(1, 3, resolution, resolution, dtype: dtype, device: device), zeros(1, device: device), one);
            flops = counter.Flops;
        }

        var x = randn(s.Batch, 3, resolution, resolution, dtype: ScalarType.Float64, device: device);
        var xIn = x.to(dtype);
        var cNoise = zeros(s.Batch, device: device);
        double networkMs = Time(s.Iterations, device, () => model.Forward(xIn, cNoise, cond));
        double denoiserMs = Time(s.Iterations, device, () => denoiser.Denoise(x, full(s.Batch, 1.0, dtype: ScalarType.Float64, device: device), cond));
        var sampler = Pipeline.SamplerLookup.Require(samplers, s.Sampler);
        var sigmas = Edm.KarrasSigmas(s.Steps);
        int evaluations = sampler.Evaluations(s.Steps);
        double sampleMs = Time(1, device, () => sampler.Sample(denoiser, new SamplingRequest(x, sigmas, cond)));
        double perEvalInSampler = sampleMs / evaluations;
        double tflops = flops * (double)s.Batch / (networkMs / 1000) / 1e12;
        double? peak = device.type == DeviceType.CUDA ? MatmulPeak(device) : null;

        var report = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        report.AppendLine(inv, $"### `{s.UNet}` on {s.Machine}, {device}, {dtype}, batch {s.Batch} ({DateTime.UtcNow:yyyy-MM-dd})");
        report.AppendLine();
        report.AppendLine("| measure | value |");
        report.AppendLine("| --- | --- |");
        report.AppendLine(inv, $"| parameters | {parameters / 1e6:0.0} M |");
        report.AppendLine(inv, $"| GFLOP per image per evaluation | {flops / 1e9:0.0} |");
        report.AppendLine(inv, $"| network evaluation (F_θ) | {networkMs:0.00} ms ({networkMs / s.Batch:0.000} ms per image) |");
        report.AppendLine(inv, $"| denoiser evaluation (preconditioning, float64 casts) | {denoiserMs:0.00} ms |");
        report.AppendLine(inv, $"| {sampler.Name}, {s.Steps} steps ({evaluations} evaluations), whole batch | {sampleMs:0} ms, {perEvalInSampler:0.00} ms per evaluation |");
        report.AppendLine(inv, $"| sampler and wrappers on top of the network | {(perEvalInSampler / networkMs - 1) * 100:+0.0;-0.0}% |");
        report.AppendLine(inv, $"| images per second ({s.Steps} {sampler.Name} steps) | {s.Batch / (sampleMs / 1000):0.00} |");
        report.AppendLine(inv, $"| achieved rate | {tflops:0.0} TFLOP/s |");
        if (peak is double p)
            report.AppendLine(inv, $"| share of measured bf16 matmul peak ({p:0} TFLOP/s) | {tflops / p * 100:0.0}% |");
        if (s.Experts > 1) EnsembleReport(s, report, family, model, denoiser, sampler, x, sigmas, cond, device, dtype, sampleMs);
        Console.WriteLine(report.ToString());
        if (s.Report is not null) File.AppendAllText(s.Report, report + Environment.NewLine);
        return 0;
    }

    /// <summary>
    /// The cost of the ensemble (eDiff-I's claim: a step costs what one model's step costs): the same Heun
    /// run through N experts behind the σ router, with experts resident and in low-memory mode.
    /// </summary>
    private void EnsembleReport(BenchSettings s, StringBuilder report, INetworkFamily family, INetwork model, IDenoiser single,
        ISampler sampler, Tensor x, double[] sigmas, ConditioningInputs cond, Device device, ScalarType dtype, double singleMs)
    {
        var inv = CultureInfo.InvariantCulture;
        var spec = new ExpertEnsembleSpec
        {
            Experts = Enumerable.Range(0, s.Experts).Select(i => new ExpertEntry
            {
                Name = $"e{i}", Folder = $"e{i}", Quantiles = [new QuantileRange(i / (double)s.Experts, (i + 1) / (double)s.Experts)],
            }).ToList(),
        };
        var router = catalog.CreateRouter(spec);
        var experts = new List<INetwork> { model };
        for (int i = 1; i < s.Experts; i++)
        {
            var e = family.FromConfig(model.ConfigJson);
            e.Module.eval();
            e.Module.to(device);
            if (dtype != ScalarType.Float32) e.Module.to(dtype);
            e.ComputeType = dtype;
            experts.Add(e);
        }
        try
        {
            var denoisers = experts.Select(e => (IDenoiser)new PreconditionedDenoiser(e)).ToList();
            var resident = new ExpertEnsembleDenoiser(denoisers, router);
            // Interleave single and ensemble runs so drift in clocks affects both alike.
            var singleTimes = new List<double>();
            var ensembleTimes = new List<double>();
            for (int r = 0; r < 3; r++)
            {
                singleTimes.Add(Time(1, device, () => sampler.Sample(single, new SamplingRequest(x, sigmas, cond))));
                ensembleTimes.Add(Time(1, device, () => sampler.Sample(resident, new SamplingRequest(x, sigmas, cond))));
            }
            double singleRun = singleTimes.Min(), ensembleRun = ensembleTimes.Min();
            report.AppendLine(inv, $"| ensemble of {s.Experts} experts, resident: Heun run | {ensembleRun:0} ms vs {singleRun:0} ms for one network: ratio {ensembleRun / singleRun:0.000} |");
            if (catalog.Placements is { } placements)
            {
                var modules = experts.Select(e => e.Module).ToList();
                var lowMemory = new ExpertEnsembleDenoiser(denoisers, router, placements.Create("low-memory", modules, device));
                double lowRun = Time(1, device, () => sampler.Sample(lowMemory, new SamplingRequest(x, sigmas, cond)));
                long bytes = model.Module.parameters().Sum(p => p.numel() * p.ElementSize);
                report.AppendLine(inv, $"| ensemble of {s.Experts} experts, low-memory: Heun run | {lowRun:0} ms; {(lowRun - ensembleRun) / s.Experts:0.0} ms per expert switch ({bytes / 1e6:0.0} MB of weights each, {s.Experts} switches per image batch) |");
                foreach (var m in modules) m.to(device);
            }
        }
        finally
        {
            foreach (var e in experts.Skip(1)) e.Dispose();
        }
    }

    private static double Time(int iterations, Device device, Func<Tensor> run)
    {
        for (int i = 0; i < Math.Min(3, iterations); i++) { using var scope = NewDisposeScope(); run(); }
        Sync(device);
        var times = new List<double>();
        for (int i = 0; i < iterations; i++)
        {
            var clock = Stopwatch.StartNew();
            using (var scope = NewDisposeScope()) run();
            Sync(device);
            times.Add(clock.Elapsed.TotalMilliseconds);
        }
        times.Sort();
        return times[times.Count / 2];
    }

    private static void Sync(Device device)
    {
        if (device.type == DeviceType.CUDA) cuda.synchronize(device);
    }

    /// <summary>Measured bf16 rate of an 8192³ matrix product, the practical ceiling for the network.</summary>
    private static double MatmulPeak(Device device)
    {
        using var scope = NewDisposeScope();
        var a = randn(8192, 8192, dtype: ScalarType.BFloat16, device: device);
        var b = randn(8192, 8192, dtype: ScalarType.BFloat16, device: device);
        double ms = Time(10, device, () => a.matmul(b));
        return 2.0 * 8192 * 8192 * 8192 / (ms / 1000) / 1e12;
    }
}
