using System.ComponentModel;
using EDiffI.Host.Data;
using EDiffI.Host.Pipeline;
using EDiffI.Host.Runtime;
using EDiffI.Host.Training;
using EDiffI.Host.Training.Distributed;
using EDiffI.Encoders;
using EDiffI.Experts;
using static TorchSharp.torch;
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
    [Description("image side (default: the shape's, 64 for most; tiny: 16)")]
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

    [CommandOption("--t5 <FOLDER>")]
    [Description("T5 encoder checkpoint folder (Hugging Face layout) for the T5 stream, or 'none'; default: the word-hash stand-in")]
    public string? T5 { get; init; }

    [CommandOption("--clip <FOLDER>")]
    [Description("CLIP checkpoint folder (Hugging Face layout) for the CLIP text and image streams, or 'none'; default: the word-hash stand-in")]
    public string? Clip { get; init; }

    [CommandOption("--no-image")]
    [Description("train without the CLIP image stream (style reference) even when --clip is given")]
    public bool NoImage { get; init; }

    [CommandOption("--image-drop <P>")]
    [Description("probability of dropping the CLIP image embedding (default 0.5)")]
    public double ImageDrop { get; init; } = 0.5;

    [CommandOption("--schedule <FILE>")]
    [Description("branching schedule (JSON) of eDiff-I's noise-level tree: trains every node, then exports its ensembles")]
    public string? Schedule { get; init; }

    [CommandOption("--nodes <NAMES>")]
    [Description("with --schedule: train only these nodes (comma-separated; their parents must be finished), e.g. to train siblings in parallel")]
    public string? Nodes { get; init; }

    [CommandOption("--export-only")]
    [Description("with --schedule: train nothing, export the ensembles whose nodes are finished")]
    public bool ExportOnly { get; init; }

    [CommandOption("--resume <CHECKPOINT>")]
    [Description("checkpoint folder to resume from (default: the run folder's latest)")]
    public string? Resume { get; init; }

    [CommandOption("--base <MODEL>")]
    [Description("with --adapter: the frozen model whose conditioner slot is trained (for example models/default)")]
    public string? Base { get; init; }

    [CommandOption("--adapter <CONDITIONER>")]
    [Description("train only this conditioner's adapter (its U-Net slot) on --base; --out gets a small model folder naming the base")]
    public string? Adapter { get; init; }

    [CommandOption("--stage <STAGE>")]
    [Description("train a super-resolution stage of the cascade instead of the base: sr256 (64 → 256) or sr1024 (256 → 1024), sharing the text encoders of --base (default models/default)")]
    public string? Stage { get; init; }

    [CommandOption("--crop <PX>")]
    [Description("with --stage: side of the training crops (default half the stage's output, at most 256)")]
    public int? Crop { get; init; }

    [CommandOption("--low <PX>")]
    [Description("with --stage: side of the images the stage takes (default a quarter of its output)")]
    public int? Low { get; init; }

    [CommandOption("--aug-max <S>")]
    [Description("with --stage: largest σ_aug of the noise augmentation (default 0.5; 0 trains without it)")]
    public double? AugMax { get; init; }

    [CommandOption("--no-degradation")]
    [Description("with --stage: no blur, JPEG-like quantisation or synthetic downsampling of the low-resolution input (the real render only)")]
    public bool NoDegradation { get; init; }

    [CommandOption("--degradation <FILE>")]
    [Description("with --stage: the low-resolution input's random degradation, a JSON object of DegradationOptions' fields in camelCase as stage.json records them (realRender, blurProbability, blurSigmaMin, blurSigmaMax, quantisationProbability, qualityMin, qualityMax, augmentationMax, augmentationZero); fields left out keep their defaults")]
    public string? Degradation { get; init; }

    [CommandOption("--residual")]
    [Description("with --stage: the network learns the detail over the bicubic upsampled input instead of the image (it starts as bicubic upsampling and learns what that lacks); default: as the --finetune stage does")]
    public bool Residual { get; init; }

    [CommandOption("--sigma-data <S>")]
    [Description("with --stage: σ_data of what the network learns (default 0.5 for the image; for --residual, the detail's standard deviation measured on 64 training crops)")]
    public double? SigmaData { get; init; }

    [CommandOption("--finetune <MODEL>")]
    [Description("fine-tune the experts of this model folder from their weights (all, or those --nodes names), each on its own noise levels; --out gets out/model (the model with the fine-tuned experts) and out/<expert> (checkpoints, resumed); with --stage, the stage starts from this model's stage of the same name")]
    public string? Finetune { get; init; }

    [CommandOption("--grow <SHAPE>")]
    [Description("with --finetune: grow each expert into this larger shape (compact32, another named shape or a unet.json) before training: every trained weight is kept and the added layers start at their initialisation (attention blocks end in zero projections, so the grown expert starts as the trained one); a resumed run must name the same shape")]
    public string? Grow { get; init; }

    [CommandOption("--t5-pooled")]
    [Description("add the pooled T5 vector (the mean of the T5 tokens) to the time embedding, as the pooled CLIP vector is: a fair T5-only model")]
    public bool T5Pooled { get; init; }

    [CommandOption("--tile-probability <P>")]
    [Description("the share of batches trained with circular padding on both axes, for seamless tiling (default 0)")]
    public double TileProbability { get; init; }

    [CommandOption("--distributed")]
    [Description("one rank of a data-parallel run on cuda:LOCAL_RANK, as torchrun --no-python or srun start it (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT or SLURM_*); --batch is the global batch")]
    public bool Distributed { get; init; }

    [CommandOption("--gpus <N>")]
    [Description("data-parallel training on N GPUs of this machine: starts N --distributed ranks of this command")]
    public int? Gpus { get; init; }

    [CommandOption("--expert-parallel")]
    [Description("with --schedule on several GPUs: train the siblings of the tree at once, the ranks split into groups (one per sibling as far as the world size divides); each group trains its siblings data-parallel, --batch being a group's batch")]
    public bool ExpertParallel { get; init; }

    [CommandOption("--nccl-lib <PATH>")]
    [Description("libnccl.so.2 (or its folder) for --distributed (or set EDIFFI_NCCL_LIB); default: beside the CUDA libtorch")]
    public string? NcclLib { get; init; }

    [CommandOption("--data-reuse <R>")]
    [Description("train on each drawn scene R times on average (fresh noise, sigma and dropout each time): B/R new scenes a step go into a pool of --data-pool batches and every batch is drawn from it, so the world renderer and the text encoders feed R times more images a second (default 1: a fresh batch every step)")]
    public int DataReuse { get; init; } = 1;

    [CommandOption("--data-pool <BATCHES>")]
    [Description("with --data-reuse above 1: the pool's size in batches (default 16)")]
    public int DataPool { get; init; } = 16;

    [CommandOption("--prefetch <CHUNKS>")]
    [Description("batches drawn, rendered and encoded ahead on a background thread (default 3 on a GPU, 0 on the CPU)")]
    public int? Prefetch { get; init; }

    [CommandOption("--profile")]
    [Description("time the phases of every step (data, forward and backward, optimizer), synchronising the device between them, and print where the time went")]
    public bool Profile { get; init; }

    [CommandOption("--seconds <S>")]
    [Description("with --adapter, --stage or --finetune: stop after this many seconds, writing a checkpoint and the folder (0 = run all --steps)")]
    public double Seconds { get; init; }
}

/// <summary>
/// <c>train</c>: EDM training of the U-Net on a folder of captioned images. Encoder kinds, their widths and a shape's
/// resolution are asked of the plugins (<see cref="ModelCatalog"/>); model folders are written and read through
/// <see cref="ModelLoader"/>.
/// </summary>
public sealed class TrainCommand(ModelCatalog catalog, IEnumerable<EDiffI.Data.IDatasetSourceFactory> sources,
    IEnumerable<EDiffI.Conditioning.IConditioner> conditioners, IEnumerable<EDiffI.SuperResolution.ISuperResolutionFamily> stages) : Command<TrainSettings>
{
    private readonly ModelLoader _loader = new(catalog);

    /// <inheritdoc />
    public override int Execute(CommandContext context, TrainSettings s, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(s.Data)) throw new UserException("--data <folder> is required.");
        if (s.Grow is not null && (s.Finetune is null || s.Stage is not null || s.Adapter is not null))
            throw new UserException("--grow goes with --finetune MODEL alone (not with --stage or --adapter): it grows that model's experts into a larger shape.");
        if ((s.Distributed || s.Gpus is not null) && (s.Stage ?? s.Adapter ?? s.Finetune) is not null)
            throw new UserException("--distributed and --gpus train a base network or a --schedule tree; --stage, --adapter and --finetune train on one GPU.");
        if (s.ExpertParallel && (s.Schedule is null || !(s.Distributed || s.Gpus is not null)))
            throw new UserException("--expert-parallel trains the siblings of a --schedule tree on several GPUs at once: add --schedule and --gpus N (or --distributed).");
        if (s.Gpus is { } gpus) return LocalLauncher.Run(gpus);
        if (s.Stage is not null) return TrainStage(s, cancellationToken);
        var stageOnly = new (bool Given, string Name)[]
        {
            (s.Crop is not null, "--crop"), (s.Low is not null, "--low"), (s.AugMax is not null, "--aug-max"), (s.NoDegradation, "--no-degradation"),
            (s.Degradation is not null, "--degradation"), (s.Residual, "--residual"), (s.SigmaData is not null, "--sigma-data"),
        }.Where(o => o.Given).Select(o => o.Name).ToList();
        if (stageOnly.Count > 0) throw new UserException($"{string.Join(", ", stageOnly)} configure a super-resolution stage: add --stage sr256 or --stage sr1024.");
        if ((s.Base is null) != (s.Adapter is null)) throw new UserException("--base and --adapter go together: the frozen model and the conditioner whose adapter is trained.");
        if (s.Adapter is not null) return TrainAdapter(s, cancellationToken);
        if (!(s.ImageDrop >= 0 && s.ImageDrop <= 1)) throw new UserException($"--image-drop must lie between 0 and 1 (got {s.ImageDrop}).");
        if (s.Finetune is not null) return FineTune(s, cancellationToken);
        s.ApplyRuntime();
        var device = TorchRuntime.ParseDevice(s.Device);
        using var communicator = s.Distributed ? JoinRun(s) : null;
        if (communicator is not null) device = communicator.Device;
        var family = catalog.Family(s.Network);
        int resolution = s.Resolution ?? DefaultResolution(family, s.UNet);
        var manifest = Manifest(s);
        BranchingSchedule? schedule = null;
        if (s.Schedule is not null)
        {
            try
            {
                schedule = BranchingSchedule.Load(s.Schedule);
            }
            catch (Exception e) when (e is InvalidDataException or FileNotFoundException)
            {
                throw new UserException(e.Message, e);
            }
            if (s.Resume is not null) throw new UserException("--resume names one checkpoint; a tree run resumes every node from its own folder under --out.");
        }
        var data = DatasetSources.Open(s.Data, resolution, sources);
        using var disposeData = data as IDisposable;
        if (data is ImageFolderDataset { Skipped: > 0 } folder) AnsiConsole.MarkupLineInterpolated($"[yellow]{folder.Skipped} images without a caption file were left out.[/]");
        var options = BaseOptions(s);
        var compute = TorchRuntime.ComputeType(device, s.Precision);
        using var cancel = new ConsoleCancellation();
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancel.Token, cancellationToken);

        Trainer NewTrainer(TrainingOptions o, string runFolder, string? resume, TrainerState? initial, ICommunicator? ranks)
        {
            var encoders = _loader.CreateEncoders(manifest, null); // the trainer owns them
            return new(o, family, () => CreateNetwork(family, s, resolution, manifest), manifest, encoders.T5, encoders.Clip,
                data, device, compute, runFolder, resume, encoders.Image, initial, parallel: ranks is null ? null : new DataParallel(ranks));
        }

        if (schedule is null)
        {
            string? resume = s.Resume ?? Checkpoint.FindLatest(Path.Combine(s.Out, "checkpoints"));
            using var trainer = NewTrainer(options, s.Out, resume, null, communicator);
            AnsiConsole.MarkupLineInterpolated(
                $"{(resume is null ? "training" : $"resuming at step {trainer.Step} from {resume}")}: {(data.Count is long n ? $"{n} images" : "unlimited images")}, {resolution}px, {trainer.Model.Module.parameters().Sum(p => p.numel()):N0} parameters, {device}");
            bool completed = RunWithProgress(trainer, "training", s.Steps, linked.Token);
            communicator?.Finish(); // every rank stops after the same step, finished or interrupted
            if (!completed) return 130;
            AnsiConsole.MarkupLineInterpolated($"done: model in [green]{trainer.ModelFolder}[/]");
            return 0;
        }

        var tree = new TreeTrainer(schedule, s.Out, (node, runFolder, parent, resume, ranks) =>
            NewTrainer(options with
            {
                Steps = node.Iterations, Seed = s.Seed + schedule.Nodes.IndexOf(node),
                SigmaQuantiles = node.Level == 0 && !node.Complement ? null : node.Quantiles().ToList(),
                PMean = schedule.PMean, PStd = schedule.PStd,
            }, runFolder, resume, parent, ranks), communicator, s.ExpertParallel);
        bool finished = true;
        var only = s.ExportOnly ? new HashSet<string>() : s.Nodes?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet();
        tree.Run((node, trainer) =>
        {
            AnsiConsole.WriteLine($"node {node}: {(trainer.Step > 0 ? $"resuming at step {trainer.Step}" : node.Parent is null ? "from random weights" : $"from '{node.Parent}'")}, " +
                                  $"{trainer.Model.Module.parameters().Sum(p => p.numel()):N0} parameters, {device}");
            if (!RunWithProgress(trainer, node.Name, node.Iterations, linked.Token)) { finished = false; throw new OperationCanceledException(); }
        }, only, linked.Token);
        foreach (var written in communicator is { Rank: > 0 } ? [] : tree.ExportEnsembles(family, ScalarType.Float16))
            AnsiConsole.MarkupLineInterpolated($"ensemble: [green]{written}[/]");
        communicator?.Finish();
        return finished ? 0 : 130;
    }

    /// <summary>
    /// <c>train --finetune MODEL</c>: each expert of the model's ensemble (or those <c>--nodes</c> names) trains on from its
    /// shipped weights (EMA too) on its own σ quantiles, with the model's encoders, resuming from out/&lt;expert&gt;; then
    /// out/model is the model with those experts replaced (fp16, as shipped) and everything else copied.
    /// </summary>
    private int FineTune(TrainSettings s, CancellationToken cancellationToken)
    {
        if (s.Schedule is not null || s.Resume is not null)
            throw new UserException("--finetune resumes each expert from its folder under --out; it does not go with --schedule or --resume.");
        string model = Path.GetFullPath(s.Finetune!);
        var manifest = ModelManifest.Load(model);
        var ensemble = manifest.Ensemble ?? throw new UserException($"'{model}' has no expert ensemble to fine-tune (model.json names no experts).");
        var only = s.Nodes?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet();
        var unknown = only?.Where(n => ensemble.Experts.All(e => e.Name != n)).ToList();
        if (unknown is { Count: > 0 })
            throw new UserException($"--nodes names {string.Join(", ", unknown)}, which the model does not have (its experts: {string.Join(", ", ensemble.Experts.Select(e => e.Name))}).");
        s.ApplyRuntime();
        var device = TorchRuntime.ParseDevice(s.Device);
        var family = catalog.Family(manifest.Network);
        var compute = TorchRuntime.ComputeType(device, s.Precision);
        // The trainers read the encoders where the model keeps them (absolute paths; the export writes its own copy).
        string? Full(string? path) => path is null ? null : Path.GetFullPath(Path.Combine(model, path));
        var trainManifest = manifest with
        {
            T5 = manifest.T5 is { } t5 ? t5 with { Path = Full(t5.Path) } : null,
            ClipText = manifest.ClipText is { } c ? c with { Path = Full(c.Path) } : null,
            ClipImage = manifest.ClipImage is { } i ? i with { Path = Full(i.Path) } : null,
            Ensemble = null, Cascade = [],
        };
        using var cancel = new ConsoleCancellation();
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancel.Token, cancellationToken);
        if (s.Seconds > 0) linked.CancelAfter(TimeSpan.FromSeconds(s.Seconds));
        var done = new Dictionary<string, string>(); // expert name → its exported network folder
        long trained = 0; // steps trained in this run, over all experts
        foreach (var expert in ensemble.Experts.Where(e => only is null || only.Contains(e.Name)))
        {
            string runFolder = Path.Combine(s.Out, expert.Name);
            string? resume = Checkpoint.FindLatest(Path.Combine(runFolder, "checkpoints"));
            using var shipped = family.Load(Path.Combine(model, expert.Folder));
            // The shape --grow names, with the trained network's resolution and conditioning streams.
            using var grown = s.Grow is null ? null
                : NetworkShapes.Create(family, s.Grow, shape => family.Create(shape, shipped.Resolution, shipped.Conditioning), "--grow: ");
            (TrainerState State, IReadOnlyList<string> Added)? start = grown is null ? null : NetworkGrowth.Grow(shipped, grown);
            using var initial = start?.State ?? TrainerState.At(shipped.Module.state_dict()); // float32, the EMA alike
            string shape = (grown ?? shipped).ConfigJson;
            var data = DatasetSources.Open(s.Data, shipped.Resolution, sources);
            using var disposeData = data as IDisposable;
            var options = BaseOptions(s) with
            {
                Seed = s.Seed + ensemble.Experts.IndexOf(expert), SigmaQuantiles = expert.Quantiles, PMean = ensemble.PMean, PStd = ensemble.PStd,
            };
            var encoders = _loader.CreateEncoders(trainManifest, null); // the trainer owns them
            using var trainer = new Trainer(options, family, () => family.FromConfig(shape), trainManifest, encoders.T5, encoders.Clip,
                data, device, compute, runFolder, resume, encoders.Image, initial);
            if (start is { } g && resume is null)
                AnsiConsole.WriteLine($"expert {expert.Name}: grown into {s.Grow}: {g.Added.Count} new tensors " +
                                      $"({g.Added.Sum(n => g.State.Weights[n].numel()):N0} parameters) beside the {g.State.Weights.Count - g.Added.Count} trained ones");
            AnsiConsole.WriteLine($"expert {expert.Name}: {(resume is null ? $"from {Path.Combine(model, expert.Folder)}" : $"resuming at step {trainer.Step}")}, " +
                                  $"{trainer.Model.Module.parameters().Sum(p => p.numel()):N0} parameters, tiling share {s.TileProbability}, {device}");
            long before = trainer.Step;
            bool finished = RunWithProgress(trainer, expert.Name, s.Steps, linked.Token);
            // --seconds ending the run is a budget spent, not an interruption: the experts trained so far go into the model.
            bool budgetSpent = !finished && s.Seconds > 0 && !cancel.Token.IsCancellationRequested && !cancellationToken.IsCancellationRequested;
            if (!finished && !budgetSpent) return 130;
            trained += trainer.Step - before;
            done[expert.Name] = trainer.ModelFolder;
            if (budgetSpent)
            {
                AnsiConsole.MarkupLineInterpolated($"[yellow]--seconds {s.Seconds} spent during expert {expert.Name} at step {trainer.Step}; the model takes the experts trained so far[/]");
                break;
            }
        }
        // The fine-tuned model: the original folder with the trained experts' networks replaced.
        string target = Path.Combine(s.Out, "model"), temp = target + ".partial";
        if (Directory.Exists(temp)) Directory.Delete(temp, true);
        ModelLoader.CopyFolder(model, temp);
        foreach (var expert in ensemble.Experts.Where(e => done.ContainsKey(e.Name)))
        {
            using var tuned = family.Load(done[expert.Name]);
            string folder = Path.Combine(temp, expert.Folder);
            Directory.Delete(folder, true);
            tuned.Save(folder, ScalarType.Float16);
        }
        (manifest with { TrainedSteps = manifest.TrainedSteps + trained }).Save(temp);
        if (Directory.Exists(target)) Directory.Delete(target, true);
        Directory.Move(temp, target);
        AnsiConsole.MarkupLineInterpolated($"done: fine-tuned {string.Join(", ", done.Keys)}; model in [green]{target}[/]");
        return 0;
    }

    // The options of a base run (one network, a tree's nodes or a fine-tuned expert) as the command line gives them.
    private static TrainingOptions BaseOptions(TrainSettings s) => new()
    {
        BatchSize = s.Batch, Steps = s.Steps, LearningRate = s.LearningRate, CheckpointEvery = s.CheckpointEvery,
        DropProbability = s.Drop, Seed = s.Seed, ImageDropProbability = s.ImageDrop, TileProbability = s.TileProbability,
        DataReuse = s.DataReuse, DataPool = s.DataPool, Prefetch = s.Prefetch, Profile = s.Profile,
    };


    /// <summary>
    /// <c>--distributed</c>: joins the run the environment describes (<see cref="DistributedEnvironment"/>) through NCCL on
    /// cuda:LOCAL_RANK.
    /// </summary>
    private static NcclCommunicator JoinRun(TrainSettings s)
    {
        if (!s.Device.StartsWith("cuda", StringComparison.OrdinalIgnoreCase))
            throw new UserException("--distributed trains through NCCL on CUDA devices: add --device cuda (each rank takes cuda:LOCAL_RANK).");
        var environment = DistributedEnvironment.FromEnvironment();
        var communicator = NcclCommunicator.Create(environment, s.NcclLib, Rendezvous.DefaultTimeout);
        if (communicator.Rank == 0)
            AnsiConsole.MarkupLineInterpolated($"distributed: {communicator.WorldSize} ranks, NCCL {communicator.Library.VersionText} from {communicator.Library.Path}, global batch {s.Batch}");
        return communicator;
    }

    /// <summary>Trains with a progress bar; on Ctrl+C writes a checkpoint and returns false. A data-parallel rank other than 0 trains silently.</summary>
    private static bool RunWithProgress(Trainer trainer, string name, long steps, CancellationToken token)
    {
        if (!trainer.IsWriter)
        {
            try
            {
                trainer.Run(null, token);
                return true;
            }
            catch (OperationCanceledException)
            {
                return false;
            }
        }
        bool interactive = AnsiConsole.Profile.Capabilities.Interactive;
        try
        {
            AnsiConsole.Progress().AutoClear(false).Columns(
                    new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
                .Start(ctx =>
                {
                    var task = ctx.AddTask(name, maxValue: steps);
                    task.Value = trainer.Step;
                    trainer.Run(p =>
                    {
                        task.Value = p.Step;
                        task.Description = $"{name} step {p.Step} loss {p.Loss:0.0000} {p.ImagesPerSecond:0} img/s";
                        if (!interactive && (p.Step % 100 == 0 || p.Step == p.Steps))
                            Console.WriteLine($"{name} step {p.Step}/{p.Steps} loss {p.Loss:0.0000} {p.ImagesPerSecond:0.0} img/s");
                    }, token);
                });
            if (trainer.ProfileSummary is { } profile) Console.WriteLine(profile);
            return true;
        }
        catch (OperationCanceledException)
        {
            string dir = trainer.SaveCheckpoint();
            AnsiConsole.MarkupLineInterpolated($"[yellow]stopped at step {trainer.Step}; checkpoint {dir} (run again to resume)[/]");
            return false;
        }
    }

    /// <summary>
    /// The model's encoders: for a stream given a checkpoint folder, the kind that claims the stream reads it (absolute
    /// paths until export copies them in), with the image encoder that shares the CLIP folder; for a stream given
    /// nothing, the weightless stand-in at --text-dim; for 'none', no stream.
    /// </summary>
    private ModelManifest Manifest(TrainSettings s)
    {
        TextEncoderSpec? t5 = s.T5 switch
        {
            null => catalog.StandInSpec(s.TextDimension, maxTokens: 32, seed: 1),
            "none" => null,
            var path => catalog.CheckpointSpec(TextStream.T5, path, "--t5"),
        };
        TextEncoderSpec? clip = s.Clip switch
        {
            null => catalog.StandInSpec(s.TextDimension, maxTokens: 32, seed: 2),
            "none" => null,
            var path => catalog.CheckpointSpec(TextStream.Clip, path, "--clip"),
        };
        ImageEncoderSpec? image = s.Clip is not (null or "none") && !s.NoImage ? catalog.CompanionImageSpec(clip!) : null;
        return new ModelManifest { T5 = t5, ClipText = clip, ClipImage = image };
    }

    /// <summary>The image side of a shape when --resolution is not given, as its network family says.</summary>
    private static int DefaultResolution(INetworkFamily family, string shape)
    {
        try
        {
            if (!File.Exists(shape)) return family.DefaultResolution(shape);
            using var network = family.FromConfig(File.ReadAllText(shape));
            return network.Resolution;
        }
        catch (ArgumentException e)
        {
            throw new UserException(e.Message + " Or pass the path of a saved configuration (unet.json).", e);
        }
    }

    private INetwork CreateNetwork(INetworkFamily family, TrainSettings s, int resolution, ModelManifest manifest) =>
        NetworkShapes.Create(family, s.UNet, shape =>
        {
            // Both streams are stand-ins: the shape's own text layout at --text-dim (the widths would also give
            // text streams to shapes that have none, such as adm64).
            if (s.T5 is null && s.Clip is null)
            {
                if (s.T5Pooled) throw new UserException("--t5-pooled needs a T5 encoder (--t5 <folder>).");
                return family.Create(shape, resolution, s.TextDimension);
            }
            // Stream widths as the encoder plugins describe them (no weights are loaded).
            var widths = _loader.Widths(manifest, null);
            if (s.T5Pooled)
                widths = widths.T5 > 0 ? widths with { T5Pooled = widths.T5 } : throw new UserException("--t5-pooled needs a T5 encoder (--t5 <folder>).");
            return family.Create(shape, resolution, widths);
        });

    private int TrainStage(TrainSettings s, CancellationToken cancellationToken)
    {
        if (s.Adapter is not null || s.Schedule is not null) throw new UserException("--stage trains one super-resolution stage; it does not go with --adapter or --schedule.");
        if (s.Batch < 1 || s.Steps < 1 || !(s.LearningRate > 0) || s.CheckpointEvery < 1)
            throw new UserException("--batch, --steps and --checkpoint-every must be positive and --lr positive.");
        if (s.AugMax is { } aug && !(aug >= 0 && aug <= GenerationService.MaxAugmentationSigma))
            throw new UserException($"--aug-max must lie between 0 and {GenerationService.MaxAugmentationSigma} (got {aug}).");
        s.ApplyRuntime();
        var device = TorchRuntime.ParseDevice(s.Device);
        if (s.NoDegradation && s.Degradation is not null)
            throw new UserException("--no-degradation and --degradation <file> contradict each other: pass one.");
        var degradation = s.NoDegradation ? EDiffI.SuperResolution.DegradationOptions.None : new EDiffI.SuperResolution.DegradationOptions();
        if (s.Degradation is not null)
        {
            try { degradation = EDiffI.SuperResolution.DegradationOptions.Load(s.Degradation); }
            catch (Exception e) when (e is FileNotFoundException or InvalidDataException) { throw new UserException($"--degradation: {e.Message}", e); }
        }
        // --aug-max over a degradation without augmentation (--no-degradation) turns it on with the default share of clean inputs.
        if (s.AugMax is { } max)
            degradation = degradation with
            {
                AugmentationMax = max,
                AugmentationZero = max == 0 ? 1 : degradation.AugmentationZero < 1 ? degradation.AugmentationZero : new EDiffI.SuperResolution.DegradationOptions().AugmentationZero,
            };
        var run = new StageRun(s.Stage!, s.Base ?? ModelLocator.ResolveDefault(), s.UNet == "small" ? null : s.UNet, s.Low, s.Crop, degradation,
            StartFrom: s.Finetune, Residual: s.Residual ? true : null, SigmaData: s.SigmaData);
        var options = new TrainingOptions
        {
            BatchSize = s.Batch, Steps = s.Steps, LearningRate = s.LearningRate, CheckpointEvery = s.CheckpointEvery,
            DropProbability = s.Drop, Seed = s.Seed, DataReuse = s.DataReuse, DataPool = s.DataPool, Prefetch = s.Prefetch, Profile = s.Profile,
        };
        string? resume = s.Resume ?? Checkpoint.FindLatest(Path.Combine(s.Out, "checkpoints"));
        using var cancel = new ConsoleCancellation();
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancel.Token, cancellationToken);
        if (s.Seconds > 0) linked.CancelAfter(TimeSpan.FromSeconds(s.Seconds));
        using var trainer = SuperResolutionTrainer.Create(run, options, s.Data, s.Out, resume, catalog, stages, sources, device,
            TorchRuntime.ComputeType(device, s.Precision), out var data, out int crop);
        using var disposeData = data as IDisposable;
        AnsiConsole.MarkupLineInterpolated(
            $"{(resume is null ? "training" : $"resuming at step {trainer.Step} from {resume}")} stage {run.Stage}: {crop}px crops, {trainer.Model.Module.parameters().Sum(p => p.numel()):N0} parameters, {device}");
        if (!RunWithProgress(trainer, run.Stage, s.Steps, linked.Token)) return s.Seconds > 0 && !cancel.Token.IsCancellationRequested && !cancellationToken.IsCancellationRequested ? 0 : 130;
        AnsiConsole.MarkupLineInterpolated($"done: stage in [green]{trainer.ModelFolder}[/]; list it in the model's cascade (model.json) to use it");
        return 0;
    }

    private int TrainAdapter(TrainSettings s, CancellationToken cancellationToken)
    {
        var found = conditioners.FirstOrDefault(c => string.Equals(c.Name, s.Adapter, StringComparison.OrdinalIgnoreCase))
            ?? throw new UserException($"No plugin provides the conditioner '{s.Adapter}' (available: {string.Join(", ", conditioners.Select(c => c.Name))}; `plugins` lists them).");
        if (found is not EDiffI.Conditioning.ITrainableConditioner trainable)
            throw new UserException($"The conditioner '{found.Name}' cannot read its input off a training image (it is not trainable), so it has no adapter to train.");
        if (s.Batch < 1 || s.Steps < 1 || !(s.LearningRate > 0) || !(s.Drop >= 0 && s.Drop < 1) || s.CheckpointEvery < 1)
            throw new UserException("--batch, --steps and --checkpoint-every must be positive, --lr positive and --drop in [0, 1).");
        s.ApplyRuntime();
        var device = TorchRuntime.ParseDevice(s.Device);
        using var cancel = new ConsoleCancellation();
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancel.Token, cancellationToken);
        AdapterTrainer.Run(s.Base!, s.Out, trainable, resolution => DatasetSources.Open(s.Data, s.Resolution ?? resolution, sources), catalog, device, TorchRuntime.ComputeType(device, s.Precision),
            new AdapterTrainingOptions(s.Batch, s.Steps, s.LearningRate, s.Drop, s.CheckpointEvery, s.Seed, s.Seconds),
            line => Console.WriteLine(line), linked.Token);
        return 0;
    }
}
