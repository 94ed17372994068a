using System.Text.Json;
using EDiffI.Conditioning;
using EDiffI.Diffusion;
using EDiffI.Data;
using EDiffI.Encoders;
using EDiffI.Host.Data;
using EDiffI.Host.Pipeline;
using EDiffI.Host.Runtime;
using EDiffI.Networks;
using EDiffI.SuperResolution;
using static TorchSharp.torch;

namespace EDiffI.Host.Training;

/// <summary>What <c>train --stage</c> takes besides the common training options.</summary>
/// <param name="Stage">The stage's name, "sr" and its output side ("sr256", "sr1024").</param>
/// <param name="Base">The model whose text encoders the stage shares (and whose cascade it joins).</param>
/// <param name="Preset">The network shape; null for the one named like the stage.</param>
/// <param name="InputResolution">Side of the images it takes; null for a quarter of its output.</param>
/// <param name="Crop">Side of the training crops; null for half the output, at most 256.</param>
/// <param name="Degradation">The degradation of the low-resolution input.</param>
/// <param name="Kind">The stage family.</param>
/// <param name="StartFrom">A model folder whose stage of the same name gives the starting weights (fine-tuning); null trains from scratch.</param>
/// <param name="Residual">Whether the network learns the detail over the bicubic upsampled input (<see cref="StageTarget"/>);
/// null: as the stage it starts from does, or the image when it starts from scratch.</param>
/// <param name="SigmaData">σ_data of what it learns; null: 0.5 for the image, measured on the data for the detail.</param>
public sealed record StageRun(string Stage, string Base, string? Preset, int? InputResolution, int? Crop, DegradationOptions Degradation,
    string Kind = "ediffi-sr", string? StartFrom = null, bool? Residual = null, double? SigmaData = null);

/// <summary>
/// Trains one super-resolution stage of the cascade with the base recipe (<see cref="Trainer"/>: EDM loss, text-stream
/// dropout, AdamW, EMA, checkpoints and resume), on crops of the data at two resolutions, the low-resolution crop
/// degraded and noise-augmented per image; exports a stage folder.
/// </summary>
public static class SuperResolutionTrainer
{
    /// <summary>Builds the trainer of <paramref name="run"/>; it owns the stage's network and the encoders.</summary>
    public static Trainer Create(StageRun run, TrainingOptions options, string data, string outputFolder, string? resume,
        ModelCatalog catalog, IEnumerable<ISuperResolutionFamily> families, IEnumerable<IDatasetSourceFactory> sources,
        Device device, ScalarType computeType, out IDatasetSource source, out int crop)
    {
        var match = System.Text.RegularExpressions.Regex.Match(run.Stage, "^sr([0-9]+)$");
        if (!match.Success || !int.TryParse(match.Groups[1].Value, out int output) || output < 16 || output > 4096)
            throw new UserException($"--stage names a super-resolution stage by its output side, for example sr256 or sr1024 (got '{run.Stage}').");
        int input = run.InputResolution ?? output / 4;
        crop = run.Crop ?? Math.Min(256, output / 2);
        if (input < 8 || output % input != 0 || output / input < 2)
            throw new UserException($"A stage to {output} pixels cannot take {input}-pixel images; the factor must be a whole number of at least 2.");
        var family = families.FirstOrDefault(f => string.Equals(f.Kind, run.Kind, StringComparison.OrdinalIgnoreCase))
            ?? throw new UserException($"No plugin provides the super-resolution stage '{run.Kind}' (see `plugins`).");
        string preset = run.Preset ?? run.Stage;
        if (!family.Presets.Contains(preset))
            throw new UserException($"No stage shape '{preset}' (known: {string.Join(", ", family.Presets)}); pass --unet with one of them.");
        string baseFolder = Path.GetFullPath(run.Base);
        var manifest = ModelManifest.Load(baseFolder);
        ITextEncoder? t5 = null, clip = null;
        try
        {
            t5 = manifest.T5 is null ? null : catalog.CreateEncoder(manifest.T5, baseFolder);
            clip = manifest.ClipText is null ? null : catalog.CreateEncoder(manifest.ClipText, baseFolder);
            var widths = new ConditioningWidths(t5?.Dimension ?? 0, clip?.Dimension ?? 0, clip?.PooledDimension ?? 0, 0);
            source = DatasetSources.OpenPaired(data, output, input, crop, sources);
            var target = Target(run, family, preset, input, output, widths, source);
            // A detail of another scale than the image's trains at noise levels scaled alike: ln σ ~ N(P_mean + ln(σ_data/0.5), P_std²).
            if (target.SigmaData != Edm.SigmaData) options = options with { PMean = options.PMean + Math.Log(target.SigmaData / Edm.SigmaData) };
            ISuperResolutionStage? stage = null;
            long startSteps = 0; // a fine-tune counts on from the steps of the stage it starts from
            IReadOnlyList<StageTrainingRun> earlier = []; // and keeps the runs that trained it
            INetwork CreateNetwork()
            {
                try
                {
                    stage = family.Create(run.Stage, preset, input, output, widths, target);
                    if (run.StartFrom is { } model) (startSteps, earlier) = StartRecord(outputFolder, resume, StartFrom(family, stage, model, run.Stage, target));
                }
                catch (ArgumentException e)
                {
                    throw new UserException(e.Message, e);
                }
                return stage.Network;
            }
            int cropSide = crop;
            var extension = new TrainerExtension(
                (batch, images, generator, conditioning) =>
                {
                    var input = family.TrainingStream(stage!, images, batch.LowResolution?.to(images.device), generator, run.Degradation);
                    return (conditioning.WithStream(stage!.StreamName, input.Stream), input.Target);
                },
                (ema, folder, step) => family.Save(stage!, folder, ScalarType.Float16, ema, new StageTraining(startSteps + step, cropSide, run.Degradation, earlier)),
                Crops: true, SigmaData: target.SigmaData);
            return new Trainer(options, catalog.Family(StageNetworkKind(family, preset, input, output, widths)), CreateNetwork,
                manifest with { Cascade = [] }, t5, clip, source, device, computeType, outputFolder, resume, extension: extension);
        }
        catch
        {
            t5?.Dispose();
            clip?.Dispose();
            throw;
        }
    }

    // What the stage learns: as asked, else as the stage it starts from, else the image. A residual target's σ_data, unless
    // given, is measured: the standard deviation of the detail over 64 training crops, degraded as in training.
    private static StageTarget Target(StageRun run, ISuperResolutionFamily family, string preset, int input, int output, ConditioningWidths widths,
        IDatasetSource source)
    {
        StageTarget? start = null;
        if (run.StartFrom is { } model)
        {
            string folder = Path.GetFullPath(model);
            var spec = ModelManifest.Load(folder).Cascade.FirstOrDefault(c => string.Equals(c.Name, run.Stage, StringComparison.Ordinal));
            if (spec is not null)
            {
                using var shipped = family.Load(spec, Path.Combine(folder, spec.Folder));
                start = shipped.Target;
            }
        }
        bool residual = run.Residual ?? start?.Residual ?? false;
        if (run.SigmaData is { } given)
        {
            var asked = new StageTarget(residual, given);
            if (asked.Problem() is { } problem) throw new UserException($"--sigma-data: {problem}.");
            return asked;
        }
        if (start is not null && start.Residual == residual) return start;
        if (!residual) return StageTarget.Image;
        using var scope = NewDisposeScope();
        using var probe = family.Create("probe", preset, input, output, widths, new StageTarget(true, 1));
        using var generator = new Generator(7UL);
        using var batch = source.NextBatch(64, generator);
        var detail = family.TrainingStream(probe, batch.Images, batch.LowResolution, generator, run.Degradation).Target;
        double sigma = detail.to(ScalarType.Float64).std().item<double>();
        if (!(sigma > 0)) throw new UserException($"The data's high-resolution crops equal their upsampled inputs (σ of the detail {sigma}); there is nothing to learn.");
        return new StageTarget(true, Math.Round(sigma, 4));
    }

    // Copies the weights of the stage named like this one in the model folder (fine-tuning from a shipped stage) and
    // returns the steps it was trained for (its stage.json's trainedSteps, 0 when it does not say) and the runs that trained it. A start that learned
    // another target (the image, where the run learns the detail) gives its features only: the output layer
    // (the U-Net's out_conv) keeps its zero initialisation, so a residual run starts exactly at bicubic upsampling.
    private static (long Steps, IReadOnlyList<StageTrainingRun> Runs) StartFrom(ISuperResolutionFamily family, ISuperResolutionStage stage, string modelFolder, string name, StageTarget target)
    {
        string folder = Path.GetFullPath(modelFolder);
        var spec = ModelManifest.Load(folder).Cascade.FirstOrDefault(c => string.Equals(c.Name, name, StringComparison.Ordinal))
            ?? throw new UserException($"The model '{folder}' has no stage '{name}' in its cascade to fine-tune from.");
        string stageFolder = Path.Combine(folder, spec.Folder);
        using var shipped = family.Load(spec, stageFolder);
        var from = shipped.Network.Module.state_dict();
        var to = stage.Network.Module.state_dict();
        if (to.Count != from.Count || to.Any(kv => !from.TryGetValue(kv.Key, out var f) || !f.shape.SequenceEqual(kv.Value.shape)))
            throw new UserException($"Stage '{name}' of '{folder}' has another shape than the one asked for (--unet); fine-tuning needs the same shape.");
        bool sameTarget = shipped.Target.Residual == target.Residual;
        using (no_grad())
            foreach (var (key, value) in to)
                if (sameTarget || !key.StartsWith("out_conv.", StringComparison.Ordinal)) value.copy_(from[key]);
        if (!sameTarget) return (0, []); // a new target counts its steps from zero
        var record = JsonSerializer.Deserialize<StageRecord>(File.ReadAllText(Path.Combine(stageFolder, "stage.json")), RecordJson) ?? new StageRecord();
        // The start's own runs: its history, then its last run (the steps its history does not account for).
        var runs = (record.History ?? []).ToList();
        long last = record.TrainedSteps - runs.Sum(r => r.Steps);
        if (last > 0 || record.Degradation is not null) runs.Add(new StageTrainingRun(Math.Max(0, last), record.TrainingCrop, record.Degradation));
        return (record.TrainedSteps, runs);
    }

    // What a fine-tune reads of its starting stage's stage.json, and keeps in its output folder (StartFile).
    private sealed record StageRecord
    {
        public long TrainedSteps { get; init; }
        public int TrainingCrop { get; init; }
        public DegradationOptions? Degradation { get; init; }
        public List<StageTrainingRun>? History { get; init; }
    }

    private static readonly JsonSerializerOptions RecordJson = new() { PropertyNamingPolicy = JsonNamingPolicy.CamelCase, WriteIndented = true };

    /// <summary>The file in a stage run's output folder that keeps the step count of the stage the run started from.</summary>
    public const string StartFile = "stage-start.json";

    // The steps a fine-tune counts on from, and the runs before it. A fresh run keeps both in the output folder; a resumed
    // run reads them there, so a --finetune model that already holds this run's own export (its count includes the
    // run's first steps) does not count those steps, or that run, twice.
    private static (long Steps, IReadOnlyList<StageTrainingRun> Runs) StartRecord(string outputFolder, string? resume, (long Steps, IReadOnlyList<StageTrainingRun> Runs) start)
    {
        string file = Path.Combine(outputFolder, StartFile);
        if (resume is not null && File.Exists(file))
        {
            var kept = JsonSerializer.Deserialize<StageRecord>(File.ReadAllText(file), RecordJson);
            if (kept is not null) return (kept.TrainedSteps, kept.History ?? []);
        }
        if (resume is null)
        {
            Directory.CreateDirectory(outputFolder);
            File.WriteAllText(file, JsonSerializer.Serialize(new StageRecord { TrainedSteps = start.Steps, History = [.. start.Runs] }, RecordJson));
        }
        return start;
    }

    // The network family a stage's network belongs to (the trainer rebuilds the network from its configuration for export).
    private static string StageNetworkKind(ISuperResolutionFamily family, string preset, int input, int output, ConditioningWidths widths)
    {
        using var probe = family.Create("probe", preset, input, output, widths);
        return probe.Network.Kind;
    }
}
