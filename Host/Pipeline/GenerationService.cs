using EDiffI.Attention;
using EDiffI.Conditioning;
using EDiffI.Host.Runtime;
using EDiffI.Networks;
using EDiffI.Sampling;
using EDiffI.Textures;
using EDiffI.Host.Imaging;
using TorchSharp;
using Microsoft.Extensions.Configuration;
using static TorchSharp.torch;

namespace EDiffI.Host.Pipeline;

/// <summary>
/// The one place a generation is validated, assembled, run and cleaned up, for every front end: the
/// defaults (model, configuration), one set of rules with one message each, sampler, schedule and
/// conditioner lookup, encoding, conditioning, guidance, noise, sampling and the disposal of every
/// intermediate tensor. Holds one loaded model (<see cref="TextToImagePipeline"/>); one generation at a time.
/// </summary>
public sealed class GenerationService : IDisposable
{
    /// <summary>Most sampler steps a request may ask for.</summary>
    public const int MaxSteps = 1000;
    /// <summary>Most images in one request.</summary>
    public const int MaxBatch = 256;
    /// <summary>Largest guidance weight.</summary>
    public const double MaxGuidance = 100;

    private readonly List<ISampler> _samplers;
    private readonly List<ISigmaSchedule> _schedules;
    private readonly Dictionary<string, IConditioner> _conditioners;
    private readonly Dictionary<string, string> _unavailable;
    private readonly bool _ownsPipeline;
    private readonly Cascade _cascade;
    private readonly HeightEstimatorSource? _height;
    private IHeightEstimator? _heightEstimator;

    /// <summary>Largest σ_aug a request may ask for.</summary>
    public const double MaxAugmentationSigma = 10;
    /// <summary>Most times RePaint's resampling may run each piece of the schedule.</summary>
    public const int MaxResample = 20;
    /// <summary>Largest σ_max a request may give a super-resolution stage (the EDM schedule's own top).</summary>
    public const double MaxSigmaMax = 80;

    /// <summary>The loaded model.</summary>
    public TextToImagePipeline Pipeline { get; }
    /// <summary>The sampler requests get when they name none.</summary>
    public string DefaultSampler { get; }
    /// <summary>The σ schedule requests get when they name none.</summary>
    public string DefaultSchedule { get; }
    /// <summary>What conditioners may know of the model.</summary>
    public ConditionerModel Model { get; }

    /// <summary>
    /// Serves <paramref name="pipeline"/> (disposed with the service when <paramref name="ownsPipeline"/>) with
    /// the given samplers, schedules and conditioners; defaults come from <paramref name="configuration"/>
    /// (<c>Sampling:Sampler</c>, <c>Sampling:Schedule</c>). Throws a <see cref="UserException"/> when a
    /// configured default does not exist.
    /// </summary>
    public GenerationService(TextToImagePipeline pipeline, IEnumerable<ISampler> samplers, IEnumerable<ISigmaSchedule> schedules,
        IEnumerable<IConditioner>? conditioners = null, IConfiguration? configuration = null, bool ownsPipeline = true, Cascade? cascade = null,
        HeightEstimatorSource? height = null)
    {
        Pipeline = pipeline;
        _height = height;
        _ownsPipeline = ownsPipeline;
        _cascade = cascade ?? Cascade.Empty;
        _samplers = samplers.ToList();
        _schedules = schedules.ToList();
        DefaultSampler = configuration?["Sampling:Sampler"] ?? "heun";
        DefaultSchedule = configuration?["Sampling:Schedule"] ?? "karras";
        string? budget = configuration?["Cascade:MemoryBudgetMB"];
        if (budget is not null)
        {
            if (!double.TryParse(budget, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double mb) || !(mb > 0))
                throw new UserException($"Configuration Cascade:MemoryBudgetMB must be a positive number of megabytes (got '{budget}').");
            MemoryBudgetBytes = mb * 1024 * 1024;
        }
        if (FindSampler(DefaultSampler) is null) throw new UserException(UnknownSampler(DefaultSampler));
        if (FindSchedule(DefaultSchedule) is null) throw new UserException(UnknownSchedule(DefaultSchedule));
        Model = new ConditionerModel(pipeline.Network.Resolution, pipeline.TextEncoders(), pipeline.ImageEncoder,
            pipeline.Networks.OfType<ICrossAttentionHost>().Any(h => h.CrossAttentionLayers.Count > 0),
            pipeline.Network.Conditioning.Streams ?? new Dictionary<string, ConditionerSlot>());
        _conditioners = new(StringComparer.OrdinalIgnoreCase);
        _unavailable = new(StringComparer.OrdinalIgnoreCase);
        foreach (var conditioner in conditioners ?? [])
        {
            string? reason = conditioner.Unavailable(Model);
            if (reason is null && !conditioner.Slot.IsNone)
                reason = Model.Slots.TryGetValue(conditioner.Name, out var slot)
                    ? slot == conditioner.Slot ? null : $"the model's '{conditioner.Name}' slot is {slot}, the conditioner fills {conditioner.Slot}"
                    : $"the model has no '{conditioner.Name}' slot (train an adapter: `train --base <model> --adapter {conditioner.Name}`)";
            if (reason is null) _conditioners.TryAdd(conditioner.Name, conditioner);
            else _unavailable.TryAdd(conditioner.Name, reason);
        }
    }

    /// <summary>
    /// Memory a super-resolution stage's forward pass may take before it runs in windows (configuration
    /// <c>Cascade:MemoryBudgetMB</c>, default 4096 MB).
    /// </summary>
    public double MemoryBudgetBytes { get; } = 4096.0 * 1024 * 1024;

    /// <summary>True when every network of the base and of the cascade wraps around, so tiling requests may run.</summary>
    public bool CanTile => NonTiling().Count == 0;

    // The networks (by kind) and stages (by name) that pad with zeros only.
    private List<string> NonTiling() =>
        Pipeline.Networks.Where(n => !n.CanTile).Select(n => n.Kind).Concat(_cascade.Stages.Where(st => !st.Stage.Network.CanTile).Select(st => st.Spec.Name)).ToList();

    /// <summary>Smallest window side a request may ask the stages for.</summary>
    public const int MinStageWindow = 64;

    /// <summary>The super-resolution stages after the base, in order (owned with the pipeline).</summary>
    public Cascade Cascade => _cascade;

    /// <summary>The sizes a request may ask for: the base's resolution, then each stage's.</summary>
    public IReadOnlyList<int> Sizes => [Model.Resolution, .. _cascade.Stages.Select(s => s.Spec.Resolution)];

    /// <summary>The size a request that names none gets: model.json's default, else the largest.</summary>
    public int DefaultSize => Pipeline.Manifest.DefaultSize is > 0 and var size && Sizes.Contains(size) ? size : Sizes[^1];

    /// <summary>The samplers by name.</summary>
    public IReadOnlyList<string> Samplers => _samplers.Select(s => s.Name).ToList();

    /// <summary>The conditioners this model can use, by name.</summary>
    public IReadOnlyCollection<string> Conditioners => _conditioners.Keys;

    /// <summary>The sampler a request uses (its own or the default).</summary>
    public ISampler SamplerFor(GenerationRequest request) =>
        FindSampler(request.Sampler ?? DefaultSampler) ?? throw new UserException(UnknownSampler(request.Sampler!));

    /// <summary>The first rule <paramref name="request"/> breaks, or null when it may run. Cheap: loads and encodes nothing.</summary>
    public RequestProblem? Check(GenerationRequest request)
    {
        request = WithDefaults(request);
        static RequestProblem Invalid(string m) => new(ProblemKind.Invalid, m);
        static RequestProblem Unsupported(string m) => new(ProblemKind.Unsupported, m);
        var prompts = request.PromptOfEach();
        if (request.Batch < 1 || request.Batch > MaxBatch) return Invalid($"The batch must be between 1 and {MaxBatch} images (got {request.Batch}).");
        if (request.Prompts is { } each && each.Count != request.Batch) return Invalid($"{each.Count} prompts were given for a batch of {request.Batch}; give one per image.");
        // An empty prompt is allowed where a conditioner input says what to draw (a style reference alone).
        if (prompts.Any(string.IsNullOrWhiteSpace) && request.Conditions.Count == 0)
            return Invalid("The prompt is empty; say what to draw (or give a conditioner input, such as a style reference).");
        if (request.Steps is { } steps && (steps < 1 || steps > MaxSteps)) return Invalid($"Steps must be between 1 and {MaxSteps} (got {steps}).");
        if (request.Guidance is { } w && !(w >= 0 && w <= MaxGuidance)) return Invalid($"Guidance must be between 0 and {MaxGuidance} (got {w}); 1 is no guidance.");
        if (request.Sampler is { } sampler && FindSampler(sampler) is null) return Invalid(UnknownSampler(sampler));
        if (request.Schedule is { } schedule && FindSchedule(schedule) is null) return Invalid(UnknownSchedule(schedule));
        if (request.Width < 0 || request.Height < 0) return Invalid($"The size {request.Width}×{request.Height} is negative.");
        if (request.Width != 0 && request.Height != 0 && request.Width != request.Height)
            return Unsupported($"The cascade draws squares only (asked for {request.Width}×{request.Height}); ask for one of {SizeList()}.");
        int size = Math.Max(request.Width, request.Height);
        if (size != 0 && !Sizes.Contains(size))
            return Unsupported(_cascade.Stages.Count == 0
                ? $"This model draws {Model.Resolution}×{Model.Resolution} images only (asked for {request.Width}×{request.Height}); it has no super-resolution stage."
                : $"This model draws {SizeList()} squares (asked for {request.Width}×{request.Height}).");
        foreach (var (name, stage) in request.Stages)
        {
            if (stage is null) return Invalid($"The settings of stage '{name}' are missing.");
            if (name != EveryStage && !_cascade.Stages.Any(s => string.Equals(s.Spec.Name, name, StringComparison.OrdinalIgnoreCase)))
                return Invalid($"Unknown stage '{name}' (this model's super-resolution stages: {Names(_cascade.Stages.Select(s => s.Spec.Name))}).");
            if (stage.Steps is { } st && (st < 1 || st > MaxSteps)) return Invalid($"Steps of stage '{name}' must be between 1 and {MaxSteps} (got {st}).");
            if (stage.Guidance is { } g && !(g >= 0 && g <= MaxGuidance)) return Invalid($"Guidance of stage '{name}' must be between 0 and {MaxGuidance} (got {g}); 1 is no guidance.");
            if (stage.AugmentationSigma is { } a && !(a >= 0 && a <= MaxAugmentationSigma))
                return Invalid($"σ_aug of stage '{name}' must be between 0 and {MaxAugmentationSigma} (got {a}); 0 is no augmentation.");
            if (stage.SigmaMax is { } top && !(top > 0 && top <= MaxSigmaMax))
                return Invalid($"σ_max of stage '{name}' must be above 0 and at most {MaxSigmaMax} (got {top}).");
        }
        if ((request.Tiling & ~TileAxes.Both) != 0) return Invalid($"Tiling must be x, y or xy (got {(int)request.Tiling}).");
        if (request.Tiling != TileAxes.None || request.MakeTileable)
        {
            var flat = NonTiling();
            if (flat.Count > 0) return Unsupported($"This model cannot draw seamless tiling textures: {Names(flat.Distinct())} pads with zeros only; turn tiling off.");
        }
        if (request.Mask is not null && request.Init is null) return Invalid("A mask needs the image it masks (--init).");
        if (request.MakeTileable && request.Init is null) return Invalid("Make-tileable needs the image to make tileable.");
        if (request.MakeTileable && request.Mask is not null) return Invalid("Make-tileable makes its own mask around the seams; leave the mask out.");
        if (request.Strength is { } strength && !(strength >= 0 && strength <= 1)) return Invalid($"The strength must be between 0 (keep the init) and 1 (ignore it) (got {strength}).");
        if (request.Strength is not null && request.Init is null) return Invalid("A strength needs an init image (--init) to start from.");
        if (request.Init is { } init)
        {
            try
            {
                init.CheckWellFormed("The init image");
                request.Mask?.CheckWellFormed("The mask");
            }
            catch (ArgumentException e)
            {
                return Invalid(e.Message);
            }
            if (init.Width != init.Height) return Unsupported($"The init image is {init.Width}×{init.Height}; the cascade draws squares, so crop it square.");
            if (init.Width < 8) return Invalid($"The init image is {init.Width}×{init.Height}; it must be at least 8×8.");
            if (request.Mask is { } mask && (mask.Width != init.Width || mask.Height != init.Height))
                return Invalid($"The mask is {mask.Width}×{mask.Height} and the init image {init.Width}×{init.Height}; they must be the same size.");
        }
        if (!(request.VariationStrength >= 0 && request.VariationStrength <= 1)) return Invalid($"The variation strength must be between 0 and 1 (got {request.VariationStrength}).");
        if (request.VariationStrength > 0 && request.VariationSeed is null) return Invalid("A variation strength needs a variation seed.");
        if (request.Resample < 1 || request.Resample > MaxResample) return Invalid($"Resampling must be between 1 (none) and {MaxResample} (got {request.Resample}).");
        if (request.JumpLength < 0 || request.JumpLength > MaxSteps) return Invalid($"The jump length must be between 0 (an eighth of the steps) and {MaxSteps} (got {request.JumpLength}).");
        if (request.Resample > 1 && request.Mask is null && !request.MakeTileable)
            return Invalid("Resampling (RePaint's jumps) repairs a masked region: give a mask or make-tileable, or leave resampling at 1.");
        if (request.StageWindow is { } window && window != 0 && (window < MinStageWindow || window % 32 != 0))
            return Invalid($"The stage window must be 0 (whole image) or a multiple of 32 of at least {MinStageWindow} pixels (got {window}).");
        foreach (var (name, input) in request.Conditions)
        {
            if (input is null) return Invalid($"The input of conditioner '{name}' is missing.");
            if (_unavailable.TryGetValue(name, out var reason)) return Unsupported($"This model cannot use the conditioner '{name}': {reason}.");
            if (!_conditioners.TryGetValue(name, out var conditioner))
                return Invalid($"Unknown conditioner '{name}' (available for this model: {Names(_conditioners.Keys)}; `plugins` lists what each plugin provides).");
            if (input.Weight is { } weight && !(weight >= 0 && weight <= MaxGuidance))
                return Invalid($"The weight of '{name}' must be between 0 and {MaxGuidance} (got {weight}).");
            try
            {
                conditioner.Check(input, prompts[0], Model);
            }
            catch (Exception e) when (e is ArgumentException or UserException)
            {
                return Invalid(e.Message);
            }
        }
        return null;
    }

    /// <summary>Throws a <see cref="UserException"/> with the first rule <paramref name="request"/> breaks.</summary>
    public void Validate(GenerationRequest request)
    {
        if (Check(request) is { } problem) throw new UserException(problem.Message);
    }

    /// <summary>
    /// Draws the images of <paramref name="request"/>. Throws a <see cref="UserException"/> for a request that
    /// breaks a rule (nothing is run), <see cref="OperationCanceledException"/> when cancelled between two
    /// evaluations. Every tensor but the result's images is disposed, whatever happens.
    /// </summary>
    public GenerationResult Generate(GenerationRequest request, SamplerCallback? callback = null, CancellationToken cancellationToken = default) =>
        Generate(request, callback is null ? null : (string _, in SamplerStep step) => callback(step), cancellationToken);

    /// <summary>
    /// Draws the images of <paramref name="request"/> through the base and as many super-resolution stages as its size
    /// asks for; <paramref name="progress"/> names the stage of each step ("base", "sr256", "sr1024").
    /// </summary>
    public GenerationResult Generate(GenerationRequest request, GenerationProgress? progress, CancellationToken cancellationToken = default)
    {
        request = WithDefaults(request);
        Validate(request);
        using var scope = NewDisposeScope(); // everything the conditioners and the sampler make, but the images
        var sampler = SamplerFor(request);
        var schedule = FindSchedule(request.Schedule ?? DefaultSchedule)!;
        long seed = request.Seed ?? Random.Shared.NextInt64(0, int.MaxValue);
        int steps = request.Steps ?? Pipeline.Manifest.DefaultSteps;
        double guidance = request.Guidance ?? Pipeline.Manifest.DefaultGuidance;
        var prompts = request.PromptOfEach();
        var notes = new List<string>();
        foreach (string prompt in prompts.Distinct()) notes.AddRange(Pipeline.PromptWarnings(prompt).Select(w => $"warning: {w}"));
        var used = new Dictionary<string, IReadOnlyDictionary<string, double>>(StringComparer.OrdinalIgnoreCase);
        var extra = new ConditioningInputs();
        bool swapped = false;
        try
        {
            var context = new ConditionerContext(prompts[0], request.Batch, Pipeline.Device, Model, notes.Add);
            foreach (var (name, input) in request.Conditions)
            {
                var conditioner = _conditioners[name];
                ConditionerOutput output;
                try
                {
                    output = conditioner.Condition(input, context);
                }
                catch (ArgumentException e)
                {
                    throw new UserException(e.Message, e);
                }
                extra = Attach(extra, conditioner.Name, output, request.Batch);
                if (output.Processor is { } processor) swapped |= Pipeline.SetCrossAttentionProcessor(processor);
                used[conditioner.Name] = output.Used ?? new Dictionary<string, double>();
            }
            int size = Math.Max(request.Width, request.Height) is > 0 and var asked ? asked : DefaultSize;
            var tiling = request.MakeTileable && request.Tiling == TileAxes.None ? TileAxes.Both : request.Tiling;
            var plan = EditPlan.Of(request, size, Sizes, tiling, notes.Add);
            // One tiling mode for every stage: the axes and whether the wrap edge rolls (the base reads it from its extras).
            TilingMode? tilingMode = tiling == TileAxes.None ? null : new TilingMode(tiling, request.TileShift);
            if (tilingMode is not null) extra = extra.With(tilingMode);
            SamplerCallback? baseProgress = progress is null ? null : (in SamplerStep step) => progress(BaseStage, step);
            Tensor images;
            var clock = System.Diagnostics.Stopwatch.StartNew();
            double baseSeconds = 0;
            if (plan.StartSize == Model.Resolution)
            {
                images = Pipeline.Sample(prompts, seed, steps, guidance, sampler, schedule, extra, baseProgress,
                    new BaseStart(plan.At(Model.Resolution, request.Batch), request.VariationSeed, request.VariationStrength), cancellationToken);
                baseSeconds = clock.Elapsed.TotalSeconds;
            }
            else
                images = plan.LowInputOf(_cascade.Stages.First(st => st.Spec.Resolution == plan.StartSize).Stage.InputResolution, request.Batch);
            var stagesUsed = new List<StageUsed>();
            foreach (var (spec, stage) in _cascade.Stages)
            {
                if (stage.OutputResolution > size) break;
                if (stage.OutputResolution < plan.StartSize) continue;
                var set = SettingsOf(request, spec.Name);
                double guidanceOfStage = set.Guidance ?? spec.DefaultGuidance;
                var usedStage = new StageUsed(spec.Name, spec.Resolution, set.Steps ?? spec.DefaultSteps, guidanceOfStage,
                    set.AugmentationSigma ?? spec.AugmentationSigma)
                { SigmaMax = set.SigmaMax ?? spec.SigmaMax, Window = WindowOf(stage, request, guidanceOfStage == 1 ? request.Batch : 2 * request.Batch) };
                var low = images;
                clock.Restart();
                images = SuperResolve(stage, usedStage, spec, low, prompts, seed, sampler, schedule, tilingMode, plan.At(spec.Resolution, request.Batch), progress, cancellationToken);
                low.Dispose();
                stagesUsed.Add(usedStage with { Seconds = clock.Elapsed.TotalSeconds });
            }
            var settings = new GenerationSettingsUsed(prompts[0], Enumerable.Range(0, request.Batch).Select(i => seed + i).ToList(), steps, guidance,
                sampler.Name, schedule.Name, (int)images.shape[3], (int)images.shape[2], used) {
                    Stages = stagesUsed, BaseSeconds = baseSeconds, Tiling = tiling, TileShift = request.TileShift, Edit = plan.Name, Strength = request.Init is null ? null : plan.Strength,
                    Variation = request.VariationSeed is { } v && request.VariationStrength > 0 ? (v, request.VariationStrength) : null,
                    Resampling = request.Resample > 1 ? (request.Resample, StageEdit.JumpOf(request.JumpLength, steps)) : null,
                };
            return new GenerationResult(images.MoveToOuterDisposeScope(), settings, notes);
        }
        finally
        {
            extra.DisposeExtras();
            if (swapped) Pipeline.SetCrossAttentionProcessor(_ => null);
        }
    }

    /// <summary>The key of <see cref="GenerationRequest.Stages"/> whose settings apply to every stage the request does not name.</summary>
    public const string EveryStage = "*";

    // A stage's settings: its own entry's fields, else the every-stage entry's.
    private static StageSettings SettingsOf(GenerationRequest request, string stage)
    {
        StageSettings? own = null, every = null;
        foreach (var (name, settings) in request.Stages)
        {
            if (string.Equals(name, stage, StringComparison.OrdinalIgnoreCase)) own = settings;
            else if (name == EveryStage) every = settings;
        }
        return new StageSettings(own?.Steps ?? every?.Steps, own?.Guidance ?? every?.Guidance, own?.AugmentationSigma ?? every?.AugmentationSigma,
            own?.SigmaMax ?? every?.SigmaMax);
    }

    /// <summary>The name progress gives the base's steps.</summary>
    public const string BaseStage = "base";

    // One super-resolution stage: the text conditioning of the base's streams (the other conditioners shape the base
    // only), fresh noise and σ_aug noise per image from its own seed, guidance as the stage says.
    private Tensor SuperResolve(EDiffI.SuperResolution.ISuperResolutionStage stage, StageUsed used, EDiffI.SuperResolution.CascadeStageSpec spec, Tensor low, IReadOnlyList<string> prompts,
        long seed, ISampler sampler, ISigmaSchedule schedule, TilingMode? tilingMode, StageEdit? edit, GenerationProgress? progress, CancellationToken cancellationToken)
    {
        var tiling = tilingMode?.Axes ?? TileAxes.None;
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var device = Pipeline.Device;
        int batch = prompts.Count, side = stage.OutputResolution;
        var noise = StageNoise(seed, batch, side, used.Name, 0).to(device);
        var augmentation = StageNoise(seed, batch, side, used.Name, 1).to(device);
        var conditioning = Pipeline.Encode(prompts);
        var denoiser = new EDiffI.Denoising.ClassifierFreeGuidance(stage.ConditionOn(low.to(device), used.AugmentationSigma, augmentation,
            new EDiffI.SuperResolution.StageLayout(tiling, used.Window, used.Window / 4,
                tilingMode is { Shift: true } ? new EDiffI.Denoising.TileShifts(tiling, seed + 1_000_003L * used.Resolution) : null)), used.Guidance);
        SamplerCallback? callback = progress is null ? null : (in SamplerStep step) => progress(used.Name, step);
        var sigmas = used.SigmaMax is { } top ? schedule.Sigmas(used.Steps, top) : schedule.Sigmas(used.Steps);
        // x_0 = start + σ_0 ε with start the init (img2img) or bicubic(low): the sampler scales its unit noise by σ_0, so
        // the image goes in divided by σ_0.
        // Inpainting starts the whole image so too (the kept region is held on the init's trajectory by the denoiser).
        Func<Tensor, double, Tensor> fromInput = spec.StartFromInput
            ? (unit, sigma0) => unit + Tiling.Bicubic(low, side, side, tiling).to(ScalarType.Float64, device) / sigma0
            : (unit, _) => unit;
        return StageEdit.SampleStage(edit, sampler, denoiser, noise, sigmas, conditioning, callback, seed + 1_000_003L * used.Resolution, fromInput, cancellationToken)
            .MoveToOuterDisposeScope();
    }

    // The window a stage runs in: the request's, else 0 (whole image) when its forward pass for the whole batch fits the
    // memory budget, else the largest multiple of 32 that fits (at least 64), overlapping its neighbours by a quarter.
    private int WindowOf(EDiffI.SuperResolution.ISuperResolutionStage stage, GenerationRequest request, int rows)
    {
        int side = stage.OutputResolution;
        if (request.StageWindow is { } asked) return asked >= side ? 0 : asked;
        if (stage.Network.InferenceBytesPerPixel is not { } perPixel) return 0;
        double pixels = MemoryBudgetBytes / (perPixel * rows);
        if (pixels >= (double)side * side) return 0;
        int window = (int)Math.Floor(Math.Sqrt(pixels) / 32) * 32;
        return Math.Max(MinStageWindow, window);
    }

    // Unit Gaussian noise of a stage for seeds seed … seed+B−1: each image's depends only on its own seed, the stage and
    // the use (0: the sampler's starting noise, 1: σ_aug's ε), never on the batch.
    private static Tensor StageNoise(long seed, int batch, int side, string stage, int use)
    {
        ulong salt = (ulong)(stage.Aggregate(17, (h, c) => unchecked(h * 31 + c)) * 2 + use) * 0x9E3779B97F4A7C15UL;
        return TextToImagePipeline.SeededNoise(seed, batch, 3, side, salt);
    }

    private string SizeList()
    {
        var sizes = Sizes.Select(s => s.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToList();
        return sizes.Count == 1 ? sizes[0] : string.Join(", ", sizes.Take(sizes.Count - 1)) + " or " + sizes[^1];
    }

    // The model's default inputs (model.json's adapters) for conditioners the request does not name.
    private GenerationRequest WithDefaults(GenerationRequest request)
    {
        foreach (var adapter in Pipeline.Manifest.Adapters)
            if (adapter.Default is { } text && !request.Conditions.ContainsKey(adapter.Name))
                request = request.WithCondition(adapter.Name, new ConditionerInput(Text: text));
        return request;
    }

    // Adds one conditioner's output to the conditioning: its stream under its name, the CLIP image stream, its extras.
    private ConditioningInputs Attach(ConditioningInputs extra, string name, ConditionerOutput output, int batch)
    {
        if (output.Stream is { } stream)
        {
            stream.Validate(name);
            extra = extra.WithStream(name, stream.Expand(batch));
        }
        if (output.ImageEmbedding is { } image)
        {
            if (extra.ClipImage is not null) throw new UserException($"Two conditioners set the CLIP image stream ('{name}' is the second); use one.");
            extra = extra with { ClipImage = (image.shape[0] == 1 ? image.expand(batch, -1) : image).to(Pipeline.Device) };
        }
        foreach (var (type, value) in output.Extras ?? new Dictionary<Type, object>())
        {
            var map = extra.Extensions is null ? new Dictionary<Type, object>() : new Dictionary<Type, object>(extra.Extensions);
            map[type] = value;
            extra = extra with { Extensions = map };
        }
        return extra;
    }

    private ISampler? FindSampler(string name) => SamplerLookup.Find(_samplers, name);
    private ISigmaSchedule? FindSchedule(string name) => SamplerLookup.Find(_schedules, name);
    private string UnknownSampler(string name) => SamplerLookup.UnknownSampler(_samplers, name);
    private string UnknownSchedule(string name) => SamplerLookup.UnknownSchedule(_schedules, name);
    private static string Names(IEnumerable<string> names) => names.Any() ? string.Join(", ", names) : "none";

    /// <summary>
    /// The kind of the height estimator the model ships and a plugin provides (what <see cref="PbrHeight.Auto"/> uses), or
    /// null when the PBR maps' height comes from the luminance heuristic.
    /// </summary>
    public string? HeightEstimatorKind => _height?.Load is null ? null : _height.Kind;

    /// <summary>
    /// The PBR maps of an RGBA8 albedo (<see cref="PbrMaps.FromAlbedo"/>) with the height <paramref name="source"/> asks for:
    /// the model's estimator (loaded on first use, kept with the service) or the luminance heuristic. <see cref="PbrHeight.Auto"/>
    /// takes the estimator when the model ships one. Returns the maps and, when the model's estimator could not be used,
    /// why (for a note).
    /// </summary>
    /// <exception cref="UserException">When <see cref="PbrHeight.Network"/> is asked of a model without a usable estimator.</exception>
    public (PbrMaps.Maps Maps, string? Note) PbrMapsOf(byte[] albedo, int width, int height, TileAxes tiling, PbrHeight source,
        NormalConvention convention)
    {
        string? note = _height is { Load: null } missing ? $"The model's height estimator '{missing.Kind}' is not provided by any plugin; the height is luminance." : null;
        if (source == PbrHeight.Network && HeightEstimatorKind is null)
            throw new UserException(note ?? "This model ships no height estimator (model.json has no \"height\"); use the luminance height.");
        var estimator = source == PbrHeight.Luminance || HeightEstimatorKind is null ? null : _heightEstimator ??= _height!.Load!();
        return (PbrMaps.FromAlbedo(albedo, width, height, tiling, convention: convention, estimator: estimator), source == PbrHeight.Luminance ? null : note);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _heightEstimator?.Dispose();
        _heightEstimator = null;
        if (!_ownsPipeline) return;
        _cascade.Dispose();
        Pipeline.Dispose();
    }
}

/// <summary>
/// A model's height estimator as the generation service sees it: its kind, and how to load it, or a null loader when no
/// loaded plugin provides that kind (then the PBR maps use the luminance heuristic, with a note).
/// </summary>
/// <param name="Kind">The kind model.json names.</param>
/// <param name="Load">Loads it (called once, on the first PBR request); null when no plugin provides the kind.</param>
public sealed record HeightEstimatorSource(string Kind, Func<IHeightEstimator>? Load);
