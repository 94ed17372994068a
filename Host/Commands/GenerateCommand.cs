using System.ComponentModel;
using EDiffI.Attention;
using EDiffI.Conditioning;
using EDiffI.Host.Imaging;
using EDiffI.Host.Pipeline;
using EDiffI.Host.Runtime;
using EDiffI.Sampling;
using Microsoft.Extensions.Configuration;
using Spectre.Console;
using Spectre.Console.Cli;

namespace EDiffI.Host.Commands;

/// <summary>Settings of <c>generate</c>.</summary>
public sealed class GenerateSettings : DeviceSettings
{
    [CommandOption("-p|--prompt <TEXT>")]
    [Description("what to draw")]
    public string Prompt { get; init; } = "";

    [CommandOption("-o|--out <FILE>")]
    [Description("PNG to write; with --batch N, one file per image with the seed in its name")]
    public string Out { get; init; } = "image.png";

    [CommandOption("--seed <SEED>")]
    [Description("seed of the first image (default: random, printed)")]
    public long? Seed { get; init; }

    [CommandOption("--steps <N>")]
    [Description("sampler steps (default: the model's)")]
    public int? Steps { get; init; }

    [CommandOption("--guidance <W>")]
    [Description("classifier-free guidance weight; 1 = no guidance (default: the model's)")]
    public double? Guidance { get; init; }

    [CommandOption("--batch <N>")]
    [Description("number of variations (seeds seed, seed+1, ...)")]
    public int Batch { get; init; } = 1;

    [CommandOption("--sampler <NAME>")]
    [Description("heun, euler, or a plugin's sampler (default: configuration Sampling:Sampler, else heun)")]
    public string? Sampler { get; init; }

    [CommandOption("--experts <MODE>")]
    [Description("placement of an ensemble's experts: resident (all on the device, default) or low-memory (inactive ones in host memory)")]
    public string Experts { get; init; } = "resident";

    [CommandOption("--paint <PNG>")]
    [Description("paint-with-words: a colour-coded scribble; each colour's region gets the legend's phrase")]
    public string? Paint { get; init; }

    [CommandOption("--legend <JSON>")]
    [Description("paint-with-words legend: {\"#ff0000\": \"red bricks\", \"#0000ff\": {\"phrase\": \"blue water\", \"weight\": 0.8}}, each phrase a part of the prompt, a weight its own w'")]
    public string? Legend { get; init; }

    [CommandOption("--paint-weight <W>")]
    [Description("paint-with-words w' of w(sigma) = w'*log(1+sigma)*max(QK^T) (default 0.4)")]
    public double PaintWeight { get; init; } = 0.4;

    [CommandOption("--style <IMAGE>")]
    [Description("style reference image, encoded by the model's CLIP image encoder")]
    public string? Style { get; init; }

    [CommandOption("--style-strength <S>")]
    [Description("scale of the style embedding (default 1; 0 = no style)")]
    public double StyleStrength { get; init; } = 1.0;

    [CommandOption("--model <FOLDER>")]
    [Description("model folder (model.json, unet.json, unet.safetensors); default models/default")]
    public string? Model { get; init; }
}

/// <summary><c>generate</c>: text to image.</summary>
public sealed class GenerateCommand(IEnumerable<ISampler> samplers, IEnumerable<ISigmaSchedule> schedules, IConfiguration configuration,
    ModelCatalog catalog, IEnumerable<IPaintWithWords> painters)
    : Command<GenerateSettings>
{
    /// <summary>Where the shipped default model lives, relative to the working folder or the app.</summary>
    public const string DefaultModel = "models/default";

    /// <inheritdoc />
    public override int Execute(CommandContext context, GenerateSettings s, CancellationToken cancellationToken)
    {
        string samplerName = s.Sampler ?? configuration["Sampling:Sampler"] ?? "heun";
        var sampler = samplers.FirstOrDefault(x => string.Equals(x.Name, samplerName, StringComparison.OrdinalIgnoreCase))
            ?? throw new UserException($"Unknown sampler '{samplerName}' (available: {string.Join(", ", samplers.Select(x => x.Name))}; " +
                                       "`plugins` lists what each plugin provides).");
        string scheduleName = configuration["Sampling:Schedule"] ?? "karras";
        var schedule = schedules.FirstOrDefault(x => string.Equals(x.Name, scheduleName, StringComparison.OrdinalIgnoreCase))
            ?? throw new UserException($"Unknown σ schedule '{scheduleName}' (available: {string.Join(", ", schedules.Select(x => x.Name))}).");
        if (!s.Out.EndsWith(".png", StringComparison.OrdinalIgnoreCase)) throw new UserException($"--out must name a .png file (got '{s.Out}').");
        new GenerationRequest(s.Prompt, 0, s.Steps ?? 1, s.Guidance ?? 1, s.Batch).Validate(); // before any slow work
        if ((s.Paint is null) != (s.Legend is null)) throw new UserException("--paint and --legend go together: the scribble and the legend of its colours.");
        if (!(s.PaintWeight >= 0)) throw new UserException($"--paint-weight must be 0 or more (got {s.PaintWeight}).");
        if (!(s.StyleStrength >= 0)) throw new UserException($"--style-strength must be 0 or more (got {s.StyleStrength}).");
        IReadOnlyDictionary<uint, double> legendWeights = new Dictionary<uint, double>();
        var legend = s.Legend is null ? null : Scribble.ReadLegend(s.Legend, out legendWeights);
        var painter = s.Paint is null ? null : painters.FirstOrDefault()
            ?? throw new UserException("No plugin provides paint-with-words (the PaintWithWords plugin is missing or faulted; `plugins` lists them).");
        TorchRuntime.UseTorchLibrary(s.TorchLib);
        var device = TorchRuntime.ParseDevice(s.Device);
        string folder = s.Model ?? ResolveDefaultModel();
        using var pipeline = TextToImagePipeline.Load(folder, catalog, device, TorchRuntime.ComputeType(device, s.Precision), s.Experts);
        foreach (var warning in pipeline.PromptWarnings(s.Prompt)) Console.WriteLine($"warning: {warning}");
        var extra = new ConditioningInputs();
        if (painter is not null) extra = Paint(pipeline, painter, s, legend!, legendWeights);
        if (s.Style is not null)
        {
            using var reference = ImageFiles.LoadSquare(s.Style, StyleSize);
            using var signed = reference.to(TorchSharp.torch.ScalarType.Float32) / 127.5 - 1;
            extra = extra with { ClipImage = pipeline.EncodeStyle(signed, s.StyleStrength) };
        }
        long seed = s.Seed ?? Random.Shared.NextInt64(0, int.MaxValue);
        var request = new GenerationRequest(s.Prompt, seed, s.Steps ?? pipeline.Manifest.DefaultSteps,
            s.Guidance ?? pipeline.Manifest.DefaultGuidance, s.Batch);
        int evaluations = sampler.Evaluations(request.Steps);
        using var cancel = new ConsoleCancellation();
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancel.Token, cancellationToken);
        TorchSharp.torch.Tensor images = null!;
        AnsiConsole.Progress().AutoClear(false).Columns(
                new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
            .Start(ctx =>
            {
                var task = ctx.AddTask($"{sampler.Name}, {request.Steps} steps ({evaluations} evaluations)", maxValue: request.Steps);
                images = pipeline.Generate(request, sampler, schedule,
                    (in SamplerStep step) => { task.Value = step.Index + 1; task.Description = $"{sampler.Name} σ={step.Sigma:0.###}"; },
                    extra, linked.Token);
                task.Value = request.Steps;
            });
        extra.DisposeExtras();
        using (images)
        {
            for (int i = 0; i < request.Batch; i++)
            {
                string path = request.Batch == 1 ? s.Out : Path.ChangeExtension(s.Out, null) + $"-seed{seed + i}.png";
                using var image = images[i];
                ImageFiles.SavePng(image, path);
                AnsiConsole.MarkupLineInterpolated($"wrote [green]{path}[/] (seed {seed + i})");
            }
        }
        return 0;
    }

    /// <summary>Side the style reference is read at; the CLIP image encoder resizes it to its own input.</summary>
    private const int StyleSize = 224;

    /// <summary>Reads the scribble, locates the legend's phrases and swaps paint-with-words into every network.</summary>
    private static ConditioningInputs Paint(TextToImagePipeline pipeline, IPaintWithWords painter, GenerateSettings s,
        IReadOnlyDictionary<uint, string> legend, IReadOnlyDictionary<uint, double> weights)
    {
        var regions = Scribble.ReadRegions(s.Paint!, legend, pipeline.Network.Resolution, Console.WriteLine, weights);
        return pipeline.Paint(painter, new PaintRequest(s.Prompt, regions, s.PaintWeight));
    }

    internal static string ResolveDefaultModel() => ModelLocator.ResolveDefault();
}
