using System.ComponentModel;
using EDiffI.Host.Data;
using EDiffI.Host.Pipeline;
using EDiffI.Host.Runtime;
using EDiffI.Host.Training;
using EDiffI.Encoders;
using EDiffI.Networks;
using Spectre.Console;
using Spectre.Console.Cli;

namespace EDiffI.Host.Commands;

/// <summary>Settings of <c>train</c>.</summary>
public sealed class TrainSettings : DeviceSettings
{
    [CommandOption("--data <FOLDER>")]
    [Description("folder of images, each with a .txt caption beside it, or a plugin's source such as world:train")]
    public string Data { get; init; } = "";

    [CommandOption("--out <FOLDER>")]
    [Description("run folder: checkpoints/ and the exported model/ go here; an existing run resumes")]
    public string Out { get; init; } = "runs/default";

    [CommandOption("--network <KIND>")]
    [Description("network kind, provided by a plugin (default ediffi-unet)")]
    public string Network { get; init; } = "ediffi-unet";

    [CommandOption("--unet <SHAPE>")]
    [Description("the network's shape: tiny, small, adm64 (no text), ediffi64, or a saved configuration (unet.json)")]
    public string UNet { get; init; } = "small";

    [CommandOption("--resolution <PX>")]
    [Description("image side (default 64; tiny: 16)")]
    public int? Resolution { get; init; }

    [CommandOption("--text-dim <D>")]
    [Description("width of the word-hash text embeddings")]
    public int TextDimension { get; init; } = 64;

    [CommandOption("--batch <N>")]
    public int Batch { get; init; } = 32;

    [CommandOption("--steps <N>")]
    [Description("train up to this step")]
    public long Steps { get; init; } = 10_000;

    [CommandOption("--lr <RATE>")]
    public double LearningRate { get; init; } = 2e-4;

    [CommandOption("--checkpoint-every <N>")]
    public long CheckpointEvery { get; init; } = 500;

    [CommandOption("--drop <P>")]
    [Description("probability of dropping each conditioning stream (classifier-free training)")]
    public double Drop { get; init; } = 0.1;

    [CommandOption("--seed <SEED>")]
    public long Seed { get; init; } = 1;

    [CommandOption("--resume <CHECKPOINT>")]
    [Description("checkpoint folder to resume from (default: the run folder's latest)")]
    public string? Resume { get; init; }
}

/// <summary><c>train</c>: EDM training of the U-Net on a folder of captioned images.</summary>
public sealed class TrainCommand(ModelCatalog catalog, IEnumerable<EDiffI.Data.IDatasetSourceFactory> sources) : Command<TrainSettings>
{
    /// <inheritdoc />
    public override int Execute(CommandContext context, TrainSettings s, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(s.Data)) throw new UserException("--data <folder> is required.");
        TorchRuntime.UseTorchLibrary(s.TorchLib);
        var device = TorchRuntime.ParseDevice(s.Device);
        var family = catalog.Family(s.Network);
        int resolution = s.Resolution ?? (s.UNet == "tiny" ? 16 : 64);
        var text = new TextEncoderSpec { Dimension = s.TextDimension, MaxTokens = 32, Seed = 1 };
        var manifest = new ModelManifest { T5 = text, ClipText = text with { Seed = 2 } };
        var data = DatasetSources.Open(s.Data, resolution, sources);
        using var disposeData = data as IDisposable;
        if (data is ImageFolderDataset { Skipped: > 0 } folder) AnsiConsole.MarkupLineInterpolated($"[yellow]{folder.Skipped} images without a caption file were left out.[/]");
        var options = new TrainingOptions
        {
            BatchSize = s.Batch, Steps = s.Steps, LearningRate = s.LearningRate, CheckpointEvery = s.CheckpointEvery,
            DropProbability = s.Drop, Seed = s.Seed,
        };
        string? resume = s.Resume ?? Checkpoint.FindLatest(Path.Combine(s.Out, "checkpoints"));
        using var trainer = new Trainer(options, family, () => CreateNetwork(family, s, resolution), manifest,
            catalog.CreateEncoder(manifest.T5, null), catalog.CreateEncoder(manifest.ClipText, null),
            data, device, TorchRuntime.ComputeType(device, s.Precision), s.Out, resume);
        AnsiConsole.MarkupLineInterpolated(
            $"{(resume is null ? "training" : $"resuming at step {trainer.Step} from {resume}")}: {(data.Count is long n ? $"{n} images" : "unlimited images")}, {resolution}px, {trainer.Model.Module.parameters().Sum(p => p.numel()):N0} parameters, {device}");
        using var cancel = new ConsoleCancellation();
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancel.Token, cancellationToken);
        bool interactive = AnsiConsole.Profile.Capabilities.Interactive;
        try
        {
            AnsiConsole.Progress().AutoClear(false).Columns(
                    new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
                .Start(ctx =>
                {
                    var task = ctx.AddTask("training", maxValue: s.Steps);
                    task.Value = trainer.Step;
                    trainer.Run(p =>
                    {
                        task.Value = p.Step;
                        task.Description = $"step {p.Step} loss {p.Loss:0.0000} {p.ImagesPerSecond:0} img/s";
                        if (!interactive && (p.Step % 50 == 0 || p.Step == p.Steps))
                            Console.WriteLine($"step {p.Step}/{p.Steps} loss {p.Loss:0.0000} {p.ImagesPerSecond:0.0} img/s");
                    }, linked.Token);
                });
        }
        catch (OperationCanceledException)
        {
            string dir = trainer.SaveCheckpoint();
            AnsiConsole.MarkupLineInterpolated($"[yellow]stopped at step {trainer.Step}; checkpoint {dir} (run again to resume)[/]");
            return 130;
        }
        AnsiConsole.MarkupLineInterpolated($"done: model in [green]{trainer.ModelFolder}[/]");
        return 0;
    }

    private static INetwork CreateNetwork(INetworkFamily family, TrainSettings s, int resolution)
    {
        if (File.Exists(s.UNet)) return family.FromConfig(File.ReadAllText(s.UNet));
        try
        {
            return family.Create(s.UNet, resolution, s.TextDimension);
        }
        catch (ArgumentException e)
        {
            throw new UserException(e.Message + " Or pass the path of a saved configuration.", e);
        }
    }
}
