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
    [Description("adm64 (ADM ImageNet-64, no text), ediffi64 (adm64 with eDiff-I conditioning), compact, base, small or tiny, or a saved configuration (unet.json)")]
    public string UNet { get; init; } = "small";

    [CommandOption("--network <KIND>")]
    [Description("network kind, provided by a plugin (default ediffi-unet)")]
    public string Network { get; init; } = "ediffi-unet";

    [CommandOption("--batch <N>")]
    public int Batch { get; init; } = 8;

    [CommandOption("--seed <SEED>")]
    [Description("seed of the timed generations")]
    public long Seed { get; init; } = 1;

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

    [CommandOption("--channels-last")]
    [Description("on CUDA, run the network channels-last with the shim's fused GroupNorm (CudaKernels; or EDIFFI_CHANNELS_LAST=on)")]
    public bool ChannelsLast { get; init; }

    [CommandOption("--report <FILE>")]
    [Description("markdown file to append the results to")]
    public string? Report { get; init; }
}

/// <summary>
/// <c>bench</c>: time per network and denoiser evaluation, FLOP rate, and whole generations of a random network
/// of a shape. Generations go through <see cref="GenerationService"/> as every front end's do (a request at
/// guidance 1, so one branch per evaluation); only the single evaluations call the network and the denoiser directly.
/// </summary>
public sealed class BenchCommand(GenerationServiceFactory services, ModelCatalog catalog) : Command<BenchSettings>
{
    private const string Prompt = "red bricks with white mortar";

    /// <inheritdoc />
    public override int Execute(CommandContext context, BenchSettings s, CancellationToken cancellationToken)
    {
        s.ApplyRuntime();
        var device = TorchRuntime.ParseDevice(s.Device);
        var dtype = TorchRuntime.ComputeType(device, s.Precision);
        if (s.ChannelsLast) CudaKernels.ChannelsLast = true;
        var family = catalog.Family(s.Network);
        using var noGrad = no_grad();
        using var service = services.Serve(Build(family, s, device, dtype, null), ownsPipeline: true);
        var pipeline = service.Pipeline;
        var model = pipeline.Network;
        long parameters = model.Module.parameters().Sum(p => p.numel());
        // EDM initialises the last layers to zero, so a fresh network outputs zeros; small random weights there make
        // the outputs, and the graph-against-eager difference below, mean something (the cost is the same).
        foreach (var weight in pipeline.Networks.SelectMany(n => n.Module.parameters()))
            if (weight.abs().max().to(ScalarType.Float32).item<float>() == 0) weight.normal_(0, 0.02);
        int resolution = model.Resolution;
        var denoiser = pipeline.Denoiser;
        var cond = pipeline.Encode(Enumerable.Repeat(Prompt, s.Batch).ToList());

        // FLOPs of one image's evaluation, counted on a batch of one.
        long flops;
        using (var counter = FlopCounter.Start())
        using (var scope = NewDisposeScope())
        {
            var one = cond.SelectRows(tensor(new long[] { 0 }));
            model.Forward(randn(1, 3, resolution, resolution, dtype: dtype, device: device), ones(1, device: device), zeros(1, device: device), one);
            flops = counter.Flops;
        }

        var x = randn(s.Batch, 3, resolution, resolution, dtype: ScalarType.Float64, device: device);
        var xIn = x.to(dtype);
        var sigma = ones(s.Batch, device: device);
        var cNoise = Edm.CNoise(sigma);
        double networkMs = Time(s.Iterations, device, () => model.Forward(xIn, sigma, cNoise, cond));
        // Channels-last with the fused GroupNorm against the NCHW eager chain: how far apart the numbers are.
        string? layoutRow = null;
        if (device.type == DeviceType.CUDA && CudaKernels.ChannelsLast && CudaKernels.FusedGroupNormAvailable)
        {
            using var scope = NewDisposeScope();
            CudaKernels.ChannelsLast = false;
            var nchw = model.Forward(xIn, sigma, cNoise, cond);
            CudaKernels.ChannelsLast = true;
            var (gap, rms, scale) = Difference(nchw, model.Forward(xIn, sigma, cNoise, cond));
            layoutRow = string.Create(CultureInfo.InvariantCulture, $"largest difference {gap:0.###e+0}, RMS {rms:0.###e+0}, outputs up to {scale:0.###}");
        }
        // The same evaluation replayed from a CUDA graph, and how far its numbers are from the eager pass's.
        string graphRow;
        if (device.type != DeviceType.CUDA) graphRow = "not on CUDA";
        else if (!CudaGraphs.Enabled) graphRow = "turned off (--cuda-graphs off)";
        else if (!CudaGraphs.Available) graphRow = $"unavailable: {CudaGraphs.UnavailableReason}";
        else
        {
            using var graphed = CudaGraphs.Wrap(model);
            double difference, scale;
            using (var scope = NewDisposeScope())
                (difference, _, scale) = Difference(model.Forward(xIn, sigma, cNoise, cond), graphed.Forward(xIn, sigma, cNoise, cond));
            if (graphed.Replays == 0) graphRow = $"capture failed, eager instead: {graphed.LastFailure}";
            else
            {
                double graphMs = Time(s.Iterations, device, () => graphed.Forward(xIn, sigma, cNoise, cond));
                graphRow = string.Create(CultureInfo.InvariantCulture,
                    $"{graphMs:0.00} ms ({networkMs / graphMs:0.00}× the eager pass; largest difference from it {difference:0.###e+0} of outputs up to {scale:0.###})");
            }
        }
        double denoiserMs = Time(s.Iterations, device, () => denoiser.Denoise(x, full(s.Batch, 1.0, dtype: ScalarType.Float64, device: device), cond));
        var request = new GenerationRequest(Prompt, Seed: s.Seed, Steps: s.Steps, Guidance: 1, Batch: s.Batch) { Sampler = s.Sampler };
        service.Validate(request);
        var sampler = service.SamplerFor(request);
        int evaluations = sampler.Evaluations(s.Steps);
        double sampleMs = Time(1, device, () => service.Generate(request, cancellationToken: cancellationToken).Images);
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
        if (device.type == DeviceType.CUDA)
            report.AppendLine(inv, $"| layout | {(CudaKernels.ChannelsLast ? CudaKernels.FusedGroupNormAvailable ? "channels-last, fused GroupNorm" : "NCHW (channels-last asked, but the shim has no fused GroupNorm)" : "NCHW")} |");
        report.AppendLine(inv, $"| GFLOP per image per evaluation | {flops / 1e9:0.0} |");
        report.AppendLine(inv, $"| network evaluation (F_θ) | {networkMs:0.00} ms ({networkMs / s.Batch:0.000} ms per image) |");
        report.AppendLine(inv, $"| network evaluation replayed from a CUDA graph | {graphRow} |");
        if (layoutRow is not null) report.AppendLine(inv, $"| channels-last and fused GroupNorm against NCHW eager | {layoutRow} |");
        report.AppendLine(inv, $"| denoiser evaluation (preconditioning, float64 casts{(CudaGraphs.Enabled && CudaGraphs.Available ? "; graphs on" : "")}) | {denoiserMs:0.00} ms |");
        report.AppendLine(inv, $"| {sampler.Name}, {s.Steps} steps ({evaluations} evaluations), whole batch | {sampleMs:0} ms, {perEvalInSampler:0.00} ms per evaluation |");
        if (device.type == DeviceType.CUDA) report.AppendLine(inv, $"| graphs in the generation | {CudaGraphs.Summary()} |");
        report.AppendLine(inv, $"| sampler and wrappers on top of the network | {(perEvalInSampler / networkMs - 1) * 100:+0.0;-0.0}% |");
        report.AppendLine(inv, $"| images per second ({s.Steps} {sampler.Name} steps) | {s.Batch / (sampleMs / 1000):0.00} |");
        report.AppendLine(inv, $"| achieved rate | {tflops:0.0} TFLOP/s |");
        if (peak is double p)
            report.AppendLine(inv, $"| share of measured bf16 matmul peak ({p:0} TFLOP/s) | {tflops / p * 100:0.0}% |");
        if (s.Experts > 1) EnsembleReport(s, report, family, service, request, device, dtype, cancellationToken);
        Console.WriteLine(report.ToString());
        if (s.Report is not null) File.AppendAllText(s.Report, report + Environment.NewLine);
        return 0;
    }

    /// <summary>
    /// A model in memory: one random network of the shape, or an ensemble of <paramref name="ensemble"/>'s experts of
    /// it, with the weightless stand-in encoder on each text stream the shape has (one table, seed 1, for both).
    /// </summary>
    private TextToImagePipeline Build(INetworkFamily family, BenchSettings s, Device device, ScalarType dtype,
        (ExpertEnsembleSpec Spec, string Placement)? ensemble)
    {
        var networks = new List<INetwork>();
        ModelEncoders? encoders = null;
        try
        {
            networks.Add(NetworkShapes.Create(family, s.UNet, shape => family.Create(shape)));
            for (int i = 1; i < (ensemble?.Spec.Experts.Count ?? 1); i++) networks.Add(family.FromConfig(networks[0].ConfigJson));
            var widths = networks[0].Conditioning;
            var manifest = new ModelManifest
            {
                Network = family.Kind, Ensemble = ensemble?.Spec,
                T5 = widths.T5 > 0 ? catalog.StandInSpec(widths.T5, maxTokens: 32, seed: 1) : null,
                ClipText = widths.ClipText > 0 ? catalog.StandInSpec(widths.ClipText, maxTokens: 32, seed: 1) : null,
            };
            encoders = new ModelLoader(catalog).CreateEncoders(manifest, null);
            if (ensemble is not { } e) return new TextToImagePipeline(manifest, networks[0], encoders.T5, encoders.Clip, device, dtype);
            var router = catalog.CreateRouter(e.Spec);
            Func<IReadOnlyList<nn.Module>, IExpertPlacement>? place = e.Placement == "resident" ? null
                : modules => catalog.Placements!.Create(e.Placement, modules, device);
            return new TextToImagePipeline(manifest, networks, router, place, encoders.T5, encoders.Clip, null, device, dtype);
        }
        catch (ArgumentException ex)
        {
            foreach (var n in networks) n.Dispose();
            encoders?.Dispose();
            throw new UserException(ex.Message, ex);
        }
        catch
        {
            foreach (var n in networks) n.Dispose();
            encoders?.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The cost of the ensemble (eDiff-I's claim: a step costs what one model's step costs): the same generation
    /// through N experts behind the σ router, with experts resident and in low-memory mode.
    /// </summary>
    private void EnsembleReport(BenchSettings s, StringBuilder report, INetworkFamily family, GenerationService single,
        GenerationRequest request, Device device, ScalarType dtype, CancellationToken cancellationToken)
    {
        var inv = CultureInfo.InvariantCulture;
        var spec = new ExpertEnsembleSpec
        {
            Experts = Enumerable.Range(0, s.Experts).Select(i => new ExpertEntry
            {
                Name = $"e{i}", Folder = $"e{i}", Quantiles = [new QuantileRange(i / (double)s.Experts, (i + 1) / (double)s.Experts)],
            }).ToList(),
        };
        double Run(GenerationService service) => Time(1, device, () => service.Generate(request, cancellationToken: cancellationToken).Images);
        double ensembleRun;
        using (var resident = services.Serve(Build(family, s, device, dtype, (spec, "resident")), ownsPipeline: true))
        {
            // Interleave single and ensemble runs so drift in clocks affects both alike.
            var singleTimes = new List<double>();
            var ensembleTimes = new List<double>();
            for (int r = 0; r < 3; r++)
            {
                singleTimes.Add(Run(single));
                ensembleTimes.Add(Run(resident));
            }
            double singleRun = singleTimes.Min();
            ensembleRun = ensembleTimes.Min();
            report.AppendLine(inv, $"| ensemble of {s.Experts} experts, resident: {single.SamplerFor(request).Name} run | {ensembleRun:0} ms vs {singleRun:0} ms for one network: ratio {ensembleRun / singleRun:0.000} |");
        }
        if (catalog.Placements is null) return;
        using var lowMemory = services.Serve(Build(family, s, device, dtype, (spec, "low-memory")), ownsPipeline: true);
        double lowRun = Run(lowMemory);
        long bytes = single.Pipeline.Network.Module.parameters().Sum(p => p.numel() * p.ElementSize);
        report.AppendLine(inv, $"| ensemble of {s.Experts} experts, low-memory: {single.SamplerFor(request).Name} run | {lowRun:0} ms; {(lowRun - ensembleRun) / s.Experts:0.0} ms per expert switch ({bytes / 1e6:0.0} MB of weights each, {s.Experts} switches per image batch) |");
    }

    // How far `other` is from `reference`: the largest and the RMS difference, and the largest magnitude of the reference.
    private static (double Largest, double Rms, double Scale) Difference(Tensor reference, Tensor other)
    {
        using var scope = NewDisposeScope();
        var a = reference.to(ScalarType.Float32);
        var d = other.to(ScalarType.Float32) - a;
        return (d.abs().max().item<float>(), d.pow(2).mean().sqrt().item<float>(), a.abs().max().item<float>());
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
