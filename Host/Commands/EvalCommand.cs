using System.ComponentModel;
using EDiffI.Evaluation;
using EDiffI.Host.Evaluation;
using EDiffI.Host.Pipeline;
using EDiffI.Host.Runtime;
using EDiffI.Sampling;
using Spectre.Console;
using Spectre.Console.Cli;

namespace EDiffI.Host.Commands;

/// <summary>Settings of <c>eval</c>.</summary>
public sealed class EvalSettings : DeviceSettings
{
    [CommandOption("--model <FOLDER>")]
    [Description("model folder to evaluate (default models/default)")]
    public string? Model { get; init; }

    [CommandOption("--count <N>")]
    [Description("prompts (fresh scenes) to draw and judge (default 512, the standard evaluation; a few dozen run on a CPU in minutes)")]
    public int Count { get; init; } = 512;

    [CommandOption("--report <FILE.md>")]
    [Description("the report's table; the plot (.png) and the figures (.json: attributeAccuracy, fdJudge, one field per attribute) are written beside it")]
    public string? Report { get; init; }

    [CommandOption("--steps <N>")]
    [Description("sampler steps per image (default 24)")]
    public int Steps { get; init; } = 24;

    [CommandOption("--guidance <W>")]
    [Description("classifier-free guidance weight (default 2)")]
    public double Guidance { get; init; } = 2;

    [CommandOption("--sampler <NAME>")]
    [Description("sampler (default heun)")]
    public string Sampler { get; init; } = "heun";

    [CommandOption("--schedule <NAME>")]
    [Description("sigma schedule (default karras)")]
    public string Schedule { get; init; } = "karras";

    [CommandOption("--source <SET>")]
    [Description("judged prompt set: world:train (default) or world:heldout, optionally with ,short (default) or ,long captions")]
    public string Source { get; init; } = "world:train";

    [CommandOption("--judge <FILE>")]
    [Description("the judge's weights (default models/judge/judge.safetensors, found as the default model is)")]
    public string? Judge { get; init; }

    [CommandOption("--batch <N>")]
    [Description("images per generation request (default 8 on the CPU, the fastest on 2 cores; 128 on a GPU)")]
    public int? Batch { get; init; }

    [CommandOption("--seed <SEED>")]
    [Description("seed of the first image; image i uses seed + i (default 7000000)")]
    public long Seed { get; init; } = 7_000_000;

    [CommandOption("--experts <MODE>")]
    [Description("placement of an ensemble's experts: resident (default) or low-memory")]
    public string Experts { get; init; } = "resident";
}

/// <summary>
/// <c>eval</c>: the judged text-to-image evaluation of <c>tools/Evaluate</c> (<see cref="JudgedEvaluation"/>) for one model,
/// written as a report: the Markdown table, the plot and the JSON figures.
/// </summary>
public sealed class EvalCommand(GenerationServiceFactory services, IEnumerable<IJudgedPromptSetFactory> promptSets,
    IEnumerable<ISampler> samplers, IEnumerable<ISigmaSchedule> schedules) : Command<EvalSettings>
{
    /// <summary>The most prompts one evaluation draws.</summary>
    public const int MaxCount = 100_000;

    /// <inheritdoc />
    public override int Execute(CommandContext context, EvalSettings s, CancellationToken cancellationToken)
    {
        // Every option is checked before anything slow is loaded.
        if (s.Report is null) throw new UserException("Pass --report <file.md>: the table is written there, the plot (.png) and the figures (.json) beside it.");
        var report = new EvaluationReport(s.Report);
        if (s.Count < 1 || s.Count > MaxCount) throw new UserException($"--count must be between 1 and {MaxCount} prompts (got {s.Count}).");
        if (s.Steps < 1 || s.Steps > GenerationService.MaxSteps) throw new UserException($"--steps must be between 1 and {GenerationService.MaxSteps} (got {s.Steps}).");
        if (!(s.Guidance >= 0 && s.Guidance <= GenerationService.MaxGuidance)) throw new UserException($"--guidance must be between 0 and {GenerationService.MaxGuidance} (got {s.Guidance}); 1 is no guidance.");
        if (s.Batch is < 1 or > GenerationService.MaxBatch) throw new UserException($"--batch must be between 1 and {GenerationService.MaxBatch} images (got {s.Batch}).");
        if (!samplers.Any(x => x.Name == s.Sampler)) throw new UserException($"Unknown sampler '{s.Sampler}'; available: {string.Join(", ", samplers.Select(x => x.Name))}.");
        if (!schedules.Any(x => x.Name == s.Schedule)) throw new UserException($"Unknown schedule '{s.Schedule}'; available: {string.Join(", ", schedules.Select(x => x.Name))}.");
        string model = s.Model ?? ModelLocator.ResolveDefault();
        if (!File.Exists(Path.Combine(model, ModelManifest.FileName)))
            throw new UserException(Directory.Exists(model)
                ? $"The model folder '{model}' holds no {ModelManifest.FileName}; pass --model <folder> of a trained model (such as models/default)."
                : $"The model folder '{model}' does not exist; pass --model <folder> of a trained model (such as models/default).");
        string judge = s.Judge ?? ModelLocator.ResolveJudge();
        if (!File.Exists(judge)) throw new UserException($"The judge '{judge}' does not exist; pass --judge <file.safetensors>.");
        report.CheckWritable();

        s.ApplyRuntime();
        var device = TorchRuntime.ParseDevice(s.Device);
        var settings = new EvaluationSettings(s.Steps, s.Guidance, s.Sampler, s.Schedule, s.Batch ?? (device.type == TorchSharp.DeviceType.CPU ? 8 : 128)) { Seed = s.Seed };
        using var evaluation = JudgedEvaluation.Open(promptSets, s.Source, s.Count, judge, device);
        using var service = services.Open(model, device, TorchRuntime.ComputeType(device, s.Precision), s.Experts);
        using var cancel = new ConsoleCancellation();
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancel.Token, cancellationToken);
        EvaluationResult result = null!;
        AnsiConsole.Progress().AutoClear(false).Columns(
                new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
            .Start(ctx =>
            {
                var task = ctx.AddTask($"drawing {s.Count} prompts", maxValue: s.Count);
                result = evaluation.Run(service, settings, (double done, in SamplerStep step) =>
                {
                    task.Value = done;
                    task.Description = FormattableString.Invariant($"image {Math.Min(s.Count, (int)Math.Ceiling(done))}/{s.Count}: {s.Sampler} step {step.Index + 1}/{step.Count}");
                }, linked.Token);
                task.Value = task.MaxValue;
                task.Description = $"drew and judged {s.Count} prompts";
            });
        using (result)
        {
            var subject = new EvaluationSubject(model, s.Source, device.ToString());
            var references = evaluation.References;
            // The table goes to the console first, so a report that can no longer be written loses no figure.
            Console.WriteLine(EvaluationReport.Table(subject, result, references));
            try
            {
                report.Write(subject, result, references);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new UserException($"The report could not be written ({e.Message}); its table is printed above.", e);
            }
            AnsiConsole.MarkupLineInterpolated($"attribute accuracy [green]{result.Scores.Mean:P1}[/], FD-judge {result.FdJudge:0.00}; wrote [green]{report.Markdown}[/], {Path.GetFileName(report.Plot)} and {Path.GetFileName(report.Json)}");
        }
        return 0;
    }
}
