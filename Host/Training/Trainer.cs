using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using EDiffI.Conditioning;
using EDiffI.Data;
using EDiffI.Denoising;
using EDiffI.Diffusion;
using EDiffI.Encoders;
using EDiffI.Host.Pipeline;
using EDiffI.Host.Runtime;
using EDiffI.Host.Training.Distributed;
using EDiffI.IO;
using EDiffI.Networks;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EDiffI.Host.Training;

/// <summary>Progress of a training run, reported every few steps (<see cref="TrainingOptions.ReportEvery"/>): the mean loss and the images per second since the previous report.</summary>
public readonly record struct TrainingProgress(long Step, long Steps, double Loss, double ImagesPerSecond);

/// <summary>
/// EDM training of the eDiff-I U-Net (Karras et al. 2022, Section 5 and Table 1): ln σ ~ N(P_mean, P_std²),
/// loss weight λ(σ), independent dropout of each conditioning stream (eDiff-I), AdamW, an EMA of the
/// weights, gradient clipping, and mixed precision on the GPU (float32 master weights, the network
/// computing in bf16). All randomness comes from one generator whose state is checkpointed, so a
/// resumed run reproduces an uninterrupted one exactly on the CPU.
/// </summary>
public sealed class Trainer : IDisposable
{
    private readonly TrainingOptions _options;
    private readonly IDatasetSource _data;
    private readonly Device _device;
    private readonly Generator _generator;
    private readonly ITextEncoder? _t5;
    private readonly ITextEncoder? _clip;
    private readonly IImageEncoder? _image;
    private readonly FlatParameters _flat;
    private readonly List<(string Name, Parameter Param)> _parameters;
    private ScenePool? _pool;
    private readonly PhaseClock? _clock;
    private readonly IDenoiser _denoiser;
    private readonly string _outputFolder;
    private readonly INetworkFamily _family;
    private readonly TrainerExtension? _extension;
    private readonly double _sigmaData; // of the preconditioning and the loss weight
    private readonly DataParallel? _parallel;

    /// <summary>The network being trained (float32 master weights).</summary>
    public INetwork Model { get; }
    /// <summary>The model's manifest (encoders and defaults).</summary>
    public ModelManifest Manifest { get; private set; }
    /// <summary>Steps done so far.</summary>
    public long Step { get; private set; }
    /// <summary>The EMA weights by state-dict name.</summary>
    public IReadOnlyDictionary<string, Tensor> Ema => _flat.Ema;
    /// <summary>Where the time of the steps went (<see cref="TrainingOptions.Profile"/>), or null when not profiled.</summary>
    public string? ProfileSummary => _clock?.Summary(_options.BatchSize);
    /// <summary>Where checkpoints go.</summary>
    public string CheckpointFolder => Path.Combine(_outputFolder, "checkpoints");
    /// <summary>Where the exported model goes.</summary>
    public string ModelFolder => Path.Combine(_outputFolder, "model");

    /// <summary>
    /// Starts a run, or resumes from <paramref name="resumeFrom"/> when given. The network is built by
    /// <paramref name="createNetwork"/> after the global RNG is seeded, so initialisation is reproducible;
    /// a child of the noise-level tree starts from its parent's <paramref name="initial"/> weights and EMA
    /// instead. The trainer owns the network and the encoders. With <paramref name="parallel"/> it is one rank of a
    /// data-parallel run (<see cref="DataParallel"/>, owned; its communicator is not): it starts from rank 0's state, trains on its share of each
    /// global batch of <see cref="TrainingOptions.BatchSize"/>, and only rank 0 writes files.
    /// </summary>
    public Trainer(TrainingOptions options, INetworkFamily family, Func<INetwork> createNetwork, ModelManifest manifest,
        ITextEncoder? t5, ITextEncoder? clip, IDatasetSource data, Device device, ScalarType computeType,
        string outputFolder, string? resumeFrom = null, IImageEncoder? image = null, TrainerState? initial = null, TrainerExtension? extension = null,
        DataParallel? parallel = null)
    {
        if (parallel is not null && extension is not null) throw new ArgumentException("data-parallel training covers base networks only", nameof(parallel));
        _extension = extension;
        _parallel = parallel;
        if (options.BatchSize < 1) throw new UserException("--batch must be at least 1.");
        if (options.ReportEvery < 1) throw new UserException($"The loss is read every {options.ReportEvery} steps; it must be at least every step (1).");
        ScenePool.Validate(options.BatchSize, options.DataReuse, options.DataPool, options.Prefetch ?? 0);
        if (parallel is not null && options.DataReuse > 1)
            throw new UserException("--data-reuse above 1 draws from a pool of scenes per process, which a data-parallel run cannot split like one process's batches; train data-parallel with --data-reuse 1.");
        _options = options;
        _data = data;
        _device = device;
        _outputFolder = outputFolder;
        _family = family;
        Manifest = manifest with { Network = family.Kind };
        _generator = new Generator((ulong)options.Seed);
        manual_seed(options.Seed);
        Model = createNetwork();
        if (data.Resolution != Model.Resolution && !(extension is { Crops: true } && data.Resolution <= Model.Resolution))
        {
            Model.Dispose();
            throw new UserException($"The data is {data.Resolution}px but the model is {Model.Resolution}px.");
        }
        if (options.TileProbability is < 0 or > 1 || double.IsNaN(options.TileProbability))
        {
            Model.Dispose();
            throw new UserException($"--tile-probability must lie between 0 and 1 (got {options.TileProbability}).");
        }
        if (options.TileProbability > 0 && !Model.CanTile)
        {
            Model.Dispose();
            throw new UserException($"The network '{family.Kind}' cannot pad circularly, so it cannot train for tiling (--tile-probability).");
        }
        Model.Module.to(device);
        Model.ComputeType = computeType;
        Model.Module.train();
        _sigmaData = extension?.SigmaData ?? Edm.SigmaData;
        _denoiser = new PreconditionedDenoiser(Model, _sigmaData);
        _t5 = t5;
        _clip = clip;
        _image = image;
        _t5?.MoveTo(device);
        _clip?.MoveTo(device);
        _image?.MoveTo(device);
        _parameters = Model.Module.named_parameters().ToList();
        if (initial is not null && resumeFrom is null)
        {
            using var noGrad = no_grad();
            SafeTensorsWeights.LoadInto(Model.Module, initial.Weights, "the parent's weights");
        }
        _flat = new FlatParameters(_parameters, 0.9, 0.999, 1e-8, options.WeightDecay);
        if (initial is not null && resumeFrom is null)
        {
            using var noGrad = no_grad();
            foreach (var (name, ema) in _flat.Ema)
                ema.copy_(initial.Ema.TryGetValue(name, out var e) ? e : throw new UserException($"The parent's EMA lacks '{name}'."));
        }
        if (resumeFrom is not null) Restore(resumeFrom);
        parallel?.Share(options.BatchSize); // refuses a batch that does not split over the ranks
        parallel?.StartFromRankZero(_parameters.Select(p => (Tensor)p.Param).ToList(), [.. _flat.Ema.Values], Step);
        if (options.Profile) _clock = new PhaseClock(device);
    }

    // Chunk k of the data stream, drawn with its own generator (so any thread can draw it, in any order of time) and
    // prepared for the network: on the device, the captions encoded (or the source's cached embeddings moved there).
    private PreparedBatch Produce(long chunk, int size)
    {
        using var generator = new Generator(ChunkSeed(_options.Seed, chunk));
        BatchShare? share = _parallel?.Share(_options.BatchSize);
        using var batch = share is { } part ? _data.NextBatch(_options.BatchSize, generator, part) : _data.NextBatch(size, generator);
        var images = batch.Images.to(ScalarType.Float32, _device);
        ConditioningInputs conditioning;
        if (batch.Conditioning is { } cached)
            conditioning = new ConditioningInputs(
                T5Text: _t5 is null ? null : cached.T5Text?.To(_device, ScalarType.Float32),
                ClipText: _clip is null ? null : cached.ClipText?.To(_device, ScalarType.Float32),
                ClipImage: _image is null ? null : cached.ClipImage?.to(ScalarType.Float32, _device));
        else
            conditioning = new ConditioningInputs(T5Text: _t5?.Encode(batch.Captions, _device), ClipText: _clip?.Encode(batch.Captions, _device),
                ClipImage: _image?.Encode(images));
        return new PreparedBatch(images, batch.LowResolution?.to(_device), conditioning, batch.Captions);
    }

    // The big noise tensor is drawn where it is used. On the CPU it comes from the run's generator. On the GPU a CPU draw
    // and copy took longer than a step of the compact expert, and TorchSharp cannot make a CUDA generator of one's own
    // (THSGenerator_new always builds a CPU one), so the device's default generator is seeded from (run seed, step)
    // before each draw: the noise is a pure function of the step, so a resumed run draws what an unbroken one would.
    private Tensor DrawNoise(long[] shape)
    {
        if (_device.type == DeviceType.CPU) return randn(shape, generator: _generator);
        torch.cuda.manual_seed_all((long)(ChunkSeed(_options.Seed ^ 0x5EED_0F_A015EL, Step) >> 1));
        return randn(shape, device: _device);
    }

    // SplitMix64 of (seed, chunk): well-spread seeds for neighbouring chunks.
    private static ulong ChunkSeed(long seed, long chunk) => EDiffI.Sampling.SeedMix.Of(seed, unchecked((ulong)chunk + 0xDA7A));

    private ScenePool Pool => _pool ??= new ScenePool(Produce, _options.BatchSize, _options.DataReuse, _options.DataPool, Step,
        _options.Prefetch ?? (_device.type == DeviceType.CPU ? 0 : 3));

    /// <summary>Whether this process writes checkpoints and exports (always, unless it is a data-parallel rank other than 0).</summary>
    public bool IsWriter => _parallel?.IsWriter ?? true;

    /// <summary>In a data-parallel run, waits until every rank has come here; otherwise returns at once.</summary>
    public void Barrier() => _parallel?.Barrier(_device);

    /// <summary>One optimisation step; returns the batch's mean loss (reading it back waits for the step to finish).</summary>
    public double TrainStep()
    {
        using var loss = StepLoss();
        double value = loss.item<float>();
        return _parallel?.Mean(value, _device) ?? value;
    }

    // One optimisation step; returns the batch's mean loss as a tensor on the device, so the host need not wait for it.
    private Tensor StepLoss()
    {
        using var scope = NewDisposeScope();
        int b = _options.BatchSize;
        // A data-parallel rank draws what one process would for the whole batch and keeps its share of every draw.
        BatchShare? share = _parallel?.Share(b);
        Tensor Mine(Tensor t, int dim = 0) => share is { } s ? t.narrow(dim, s.Offset, s.Count) : t;
        _clock?.Start();
        var prepared = Pool.Next(_generator);
        var images = prepared.Images;
        var conditioning = prepared.Conditioning;
        // Independent dropout of each stream (eDiff-I, Section 5); all dropped is unconditional training.
        double p = _options.DropProbability;
        var keep = Mine(rand(3, b, generator: _generator) >= p, 1);
        var keepImage = _image is null ? keep[2] : keep[2].logical_and(Mine(rand(b, generator: _generator) >= _options.ImageDropProbability));
        conditioning = conditioning.KeepWhere(keep[0], keep[1], keepImage);
        // What the run adds beyond the text (a super-resolution stage's low-resolution image), never dropped.
        // It may also replace what the denoiser learns (a residual stage's detail over its upsampled input).
        if (_extension is not null) (conditioning, images) = _extension.Condition(prepared.AsTrainingBatch(), images, _generator, conditioning);
        // Tiling batches: every convolution wraps on both axes; the world's scenes are periodic, so the target is too.
        if (_options.TileProbability > 0 && rand(1, generator: _generator).item<float>() < _options.TileProbability)
            conditioning = conditioning.With(new EDiffI.Networks.TilingMode(EDiffI.Networks.TileAxes.Both));
        var sigma = Mine(_options.SigmaQuantiles is { } ranges
            ? Edm.SampleTrainingSigma(b, ranges.Select(r => (r.Low, r.High)).ToList(), _options.PMean, _options.PStd, _generator, _device)
            : Edm.SampleTrainingSigma(b, _options.PMean, _options.PStd, _generator, _device));
        long[] shape = images.shape;
        shape[0] = b;
        var noise = Mine(DrawNoise(shape));
        _clock?.Lap("data");

        var loss = Edm.TrainingLoss(_denoiser, images, sigma, noise, conditioning, _sigmaData).mean();
        _flat.ZeroGradients();
        loss.backward();
        _clock?.Lap("forward+backward");
        // Data-parallel: every rank continues with the mean gradient, so clipping and the step agree on all ranks.
        _parallel?.AverageGradients(_flat.Gradients);
        if (_options.GradientClip > 0) _flat.ClipGradientNorm(_options.GradientClip);
        _flat.Step(_options.LearningRate * Math.Min(1.0, (Step + 1) / (double)Math.Max(1, _options.WarmupSteps)));
        Step++;
        // Warm-up of the decay so early averages are not dominated by the random initialisation.
        _flat.UpdateEma(Math.Min(_options.EmaDecay, (1 + Step) / (10.0 + Step)));
        _clock?.Lap("optimizer+EMA");
        return loss.detach().MoveToOuterDisposeScope();
    }

    /// <summary>Trains until <see cref="TrainingOptions.Steps"/>, checkpointing on schedule and at the end.</summary>
    public void Run(Action<TrainingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        var clock = Stopwatch.StartNew();
        long since = 0, lastStep = Step;
        double lastTime = 0;
        Tensor? losses = null; // the sum of the losses since the last read, on the device
        try
        {
            while (Step < _options.Steps)
            {
                // A data-parallel run stops when any rank is asked to, after the same step on every rank.
                if (_parallel?.AnyStops(cancellationToken.IsCancellationRequested, _device) ?? false) throw new OperationCanceledException(cancellationToken);
                cancellationToken.ThrowIfCancellationRequested();
                using (var loss = StepLoss())
                {
                    if (losses is null) losses = loss.clone();
                    else losses.add_(loss);
                }
                since++;
                bool checkpoint = Step % _options.CheckpointEvery == 0 || Step == _options.Steps;
                // The loss is read back (which waits for the GPU) only every few steps and before every checkpoint, so the
                // host prepares the next steps while the GPU computes; a loss that is not finite is caught before it is saved.
                if (checkpoint || Step % _options.ReportEvery == 0)
                {
                    double mean = losses.item<float>() / since;
                    if (_parallel is not null) mean = _parallel.Mean(mean, _device);
                    losses.Dispose();
                    losses = null;
                    since = 0;
                    if (!double.IsFinite(mean))
                        throw new UserException($"The loss became {mean} by step {Step}; lower --lr or check the data. The last checkpoint is intact.");
                    // The rate since the last read: what the run does now, not diluted by its start (compilation, the pool's fill).
                    double now = clock.Elapsed.TotalSeconds;
                    progress?.Invoke(new TrainingProgress(Step, _options.Steps, mean, (Step - lastStep) * _options.BatchSize / Math.Max(now - lastTime, 1e-9)));
                    lastStep = Step;
                    lastTime = now;
                }
                if (checkpoint) SaveCheckpoint();
            }
        }
        finally
        {
            losses?.Dispose();
        }
    }

    /// <summary>The current weights and EMA (copies on the CPU): what a child of the noise-level tree starts from.</summary>
    public TrainerState State()
    {
        using var noGrad = no_grad();
        return new TrainerState(
            _parameters.ToDictionary(p => p.Name, p => p.Param.detach().cpu().clone().DetachFromDisposeScope()),
            _flat.Ema.ToDictionary(kv => kv.Key, kv => kv.Value.cpu().clone().DetachFromDisposeScope()));
    }

    /// <summary>
    /// Writes a checkpoint of everything a resumed run needs, and exports the EMA model; a data-parallel rank other than 0
    /// writes nothing (its state is rank 0's) and returns the folder rank 0 writes.
    /// </summary>
    public string SaveCheckpoint()
    {
        if (!IsWriter) return Path.Combine(CheckpointFolder, $"ckpt-{Step:D8}");
        using var scope = NewDisposeScope();
        var tensors = new Dictionary<string, Tensor>();
        foreach (var (name, param) in _parameters) tensors["model/" + name] = param;
        foreach (var (name, ema) in _flat.Ema) tensors["ema/" + name] = ema;
        var adamSteps = _flat.Collect(tensors);
        tensors["rng/generator"] = _generator.get_state();
        tensors["rng/global"] = random.get_rng_state();
        var meta = new JsonObject
        {
            ["format"] = "ediffi-checkpoint/1",
            ["adamSteps"] = adamSteps,
            ["network"] = JsonNode.Parse(Model.ConfigJson),
            ["manifest"] = JsonSerializer.SerializeToNode(Manifest),
            ["options"] = JsonSerializer.SerializeToNode(_options),
        };
        string dir = Checkpoint.Save(CheckpointFolder, Step, tensors, meta, _options.KeepCheckpoints);
        ExportModel(ModelFolder);
        return dir;
    }

    /// <summary>Writes the EMA weights as a model folder that `generate --model` reads (through <see cref="ModelLoader.Write"/>).</summary>
    public void ExportModel(string folder)
    {
        if (_extension is not null)
        {
            _extension.Export(_flat.Ema, folder, Step);
            return;
        }
        using var exported = _family.FromConfig(Model.ConfigJson);
        SafeTensorsWeights.LoadInto(exported.Module, _flat.Ema, "EMA weights");
        Manifest = Manifest with { TrainedSteps = Step };
        ModelLoader.Write(folder, Manifest, exported);
    }

    private void Restore(string dir)
    {
        var (tensors, meta) = Checkpoint.Load(dir);
        try
        {
            using var noGrad = no_grad();
            var weights = tensors.Where(kv => kv.Key.StartsWith("model/", StringComparison.Ordinal))
                .ToDictionary(kv => kv.Key["model/".Length..], kv => kv.Value);
            SafeTensorsWeights.LoadInto(Model.Module, weights, dir);
            foreach (var (name, ema) in _flat.Ema) ema.copy_(tensors["ema/" + name]);
            _flat.Restore(tensors, meta["adamSteps"]!.AsArray(), dir);
            _generator.set_state(tensors["rng/generator"]);
            random.set_rng_state(tensors["rng/global"]);
            Step = meta["step"]!.GetValue<long>();
        }
        catch (Exception e) when (e is KeyNotFoundException or NullReferenceException or InvalidCastException or InvalidOperationException)
        {
            throw new UserException($"Checkpoint '{dir}' does not match this run ({e.Message}). Nothing was changed.", e);
        }
        catch (InvalidDataException e)
        {
            throw new UserException(e.Message + " Nothing was changed.", e);
        }
        finally
        {
            foreach (var t in tensors.Values) t.Dispose();
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _pool?.Dispose(); // stops the producer before the encoders and the source it uses go
        Model.Dispose();
        _flat.Dispose();
        _generator.Dispose();
        _t5?.Dispose();
        _clip?.Dispose();
        _image?.Dispose();
        _parallel?.Dispose();
    }
}

/// <summary>Weights and EMA of a network by state-dict name (a tree node's starting point).</summary>
/// <param name="Weights">The trained weights.</param>
/// <param name="Ema">Their exponential moving average.</param>
public sealed record TrainerState(IReadOnlyDictionary<string, Tensor> Weights, IReadOnlyDictionary<string, Tensor> Ema) : IDisposable
{
    /// <summary>A start at <paramref name="weights"/> (a shipped or grown network's): float32 copies, and the same again as the EMA.</summary>
    public static TrainerState At(IEnumerable<KeyValuePair<string, Tensor>> weights)
    {
        using var noGrad = no_grad();
        var copies = weights.ToDictionary(kv => kv.Key, kv => kv.Value.to(ScalarType.Float32).clone().DetachFromDisposeScope());
        return new TrainerState(copies, copies.ToDictionary(kv => kv.Key, kv => kv.Value.clone().DetachFromDisposeScope()));
    }

    /// <summary>The state saved in checkpoint <paramref name="dir"/>.</summary>
    public static TrainerState FromCheckpoint(string dir)
    {
        var (tensors, _) = Checkpoint.Load(dir);
        var weights = tensors.Where(kv => kv.Key.StartsWith("model/", StringComparison.Ordinal)).ToDictionary(kv => kv.Key["model/".Length..], kv => kv.Value);
        var ema = tensors.Where(kv => kv.Key.StartsWith("ema/", StringComparison.Ordinal)).ToDictionary(kv => kv.Key["ema/".Length..], kv => kv.Value);
        foreach (var (name, t) in tensors)
            if (!name.StartsWith("model/", StringComparison.Ordinal) && !name.StartsWith("ema/", StringComparison.Ordinal)) t.Dispose();
        return new TrainerState(weights, ema);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var t in Weights.Values) t.Dispose();
        foreach (var t in Ema.Values) t.Dispose();
    }
}

/// <summary>
/// What a run trains beyond the base recipe: a super-resolution stage adds its low-resolution stream to every batch
/// (after the text streams' dropout, never dropped itself), trains on crops smaller than the network's resolution,
/// and exports a stage folder instead of a model folder.
/// </summary>
/// <param name="Condition">Adds to a batch's conditioning and gives the denoiser's target: (batch, its images on the device,
/// the run's generator, conditioning) → (conditioning, target; the images unless the run learns something else).</param>
/// <param name="Export">Writes the exported folder from the EMA weights at a step.</param>
/// <param name="Crops">Whether the data may be crops smaller than the network's resolution (a convolutional network).</param>
/// <param name="SigmaData">σ_data of the preconditioning and the loss weight: the standard deviation of the target.</param>
public sealed record TrainerExtension(
    Func<TrainingBatch, Tensor, Generator, ConditioningInputs, (ConditioningInputs Conditioning, Tensor Target)> Condition,
    Action<IReadOnlyDictionary<string, Tensor>, string, long> Export,
    bool Crops, double SigmaData = Edm.SigmaData);
