using System.Diagnostics;
using EDiffI.Evaluation;
using EDiffI.Host.Pipeline;
using EDiffI.Host.Runtime;
using EDiffI.Sampling;
using static TorchSharp.torch;

namespace EDiffI.Host.Evaluation;

/// <summary>How an evaluation draws its images: the standard evaluation is 24 Heun steps on the Karras schedule at guidance 2.</summary>
/// <param name="Steps">Sampler steps per image.</param>
/// <param name="Guidance">Classifier-free guidance weight.</param>
/// <param name="Sampler">Sampler by name.</param>
/// <param name="Schedule">σ schedule by name.</param>
/// <param name="Batch">Images per generation request.</param>
public sealed record EvaluationSettings(int Steps = 24, double Guidance = 2, string Sampler = "heun", string Schedule = "karras", int Batch = 16)
{
    /// <summary>Seed of image 0; image i is drawn from seed <c>Seed + i</c>.</summary>
    public long Seed { get; init; } = 7_000_000;

    /// <summary>How many of the first generated images to keep in <see cref="EvaluationResult.Samples"/> (for sample grids).</summary>
    public int KeepSamples { get; init; }
}

/// <summary>The judge's tallies of every attribute of a set, and the accuracy they give.</summary>
/// <param name="Attributes">The attribute names, in table order.</param>
/// <param name="Tallies">Agreeing and scored readings by attribute name (every name of <paramref name="Attributes"/>).</param>
public sealed record AttributeScores(IReadOnlyList<string> Attributes, IReadOnlyDictionary<string, AttributeTally> Tallies)
{
    /// <summary>The share of <paramref name="attribute"/> read back as intended; null when the set never shows it.</summary>
    public double? Accuracy(string attribute) => Tallies[attribute].Accuracy;

    /// <summary>
    /// The attribute accuracy: the mean over the attributes that were scored of each one's accuracy, 0 to 1 (NaN when none was).
    /// Every attribute weighs the same, however often the scenes show it.
    /// </summary>
    public double Mean
    {
        get
        {
            var scored = Attributes.Select(Accuracy).OfType<double>().ToList();
            return scored.Count == 0 ? double.NaN : scored.Average();
        }
    }

    /// <summary>All agreeing readings over all readings: attributes weighed by how often they were scored (the figure of earlier results).</summary>
    public double Pooled
    {
        get
        {
            long scored = Tallies.Values.Sum(t => t.Scored);
            return scored == 0 ? double.NaN : Tallies.Values.Sum(t => t.Agree) / (double)scored;
        }
    }
}

/// <summary>One model's images of a judged prompt set, scored.</summary>
/// <param name="Scores">What the judge read back from the generated images.</param>
/// <param name="FdJudge">The Fréchet distance between the judge's features of the generated and of the real images.</param>
/// <param name="Settings">How the images were drawn.</param>
/// <param name="Count">Images drawn.</param>
/// <param name="Elapsed">Time to draw and judge them.</param>
public sealed record EvaluationResult(AttributeScores Scores, double FdJudge, EvaluationSettings Settings, int Count, TimeSpan Elapsed) : IDisposable
{
    /// <summary>The first <see cref="EvaluationSettings.KeepSamples"/> generated images, [k, 3, R, R] on the CPU; null when none were kept.</summary>
    public Tensor? Samples { get; init; }

    /// <inheritdoc />
    public void Dispose() => Samples?.Dispose();
}

/// <summary>What a result is reported beside: the real images of the same scenes (the ceiling) and chance (the floor).</summary>
/// <param name="Real">The judge's readings of the real renders of the scenes.</param>
/// <param name="Chance">The readings of real renders of other scenes (<see cref="JudgedEvaluation.Chance"/>); null when not measured.</param>
public sealed record EvaluationReferences(AttributeScores Real, AttributeScores? Chance);

/// <summary>Progress of an evaluation: images drawn so far (fractional within a batch) and the sampler step just taken.</summary>
public delegate void EvaluationProgress(double imagesDone, in SamplerStep step);

/// <summary>
/// The judged text-to-image evaluation (the paper's FID and CLIP score at the world's scale): a model draws every prompt of a
/// judged prompt set through its <see cref="GenerationService"/>, and the set's judge reads the attributes back and gives the
/// features for the Fréchet distance against the real images. The <c>eval</c> verb and <c>tools/Evaluate</c> both run this.
/// </summary>
public sealed class JudgedEvaluation : IDisposable
{
    private Tensor? _realFeatures;
    private AttributeScores? _real, _chance;

    /// <summary>Evaluates against <paramref name="set"/>, which the evaluation owns from now on.</summary>
    public JudgedEvaluation(IJudgedPromptSet set) => Set = set ?? throw new ArgumentNullException(nameof(set));

    /// <summary>The prompts, real images and judge.</summary>
    public IJudgedPromptSet Set { get; }

    /// <summary>What the judge reads back from the real images: the ceiling a generator can reach.</summary>
    public AttributeScores Real => _real ??= new AttributeScores(Set.Attributes, Set.Judge(Set.RealImages, 0));

    /// <summary>
    /// What the judge reads back when each real image is read as the scene drawn before it (scene i's prompt against
    /// scene i − 1's render): what an image that ignores its prompt scores, the floor under the same metric. Null with
    /// fewer than two scenes.
    /// </summary>
    public AttributeScores? Chance
    {
        get
        {
            if (_chance is not null || Set.RealImages.shape[0] < 2) return _chance;
            using var others = Set.RealImages.roll(1, 0);
            return _chance = new AttributeScores(Set.Attributes, Set.Judge(others, 0));
        }
    }

    /// <summary>The real images' and the chance readings, beside which a result is reported.</summary>
    public EvaluationReferences References => new(Real, Chance);

    private Tensor RealFeatures => _realFeatures ??= Set.Features(Set.RealImages);

    /// <summary>
    /// The judged prompt set <paramref name="source"/> (<c>scheme:argument</c>, e.g. <c>world:train,short</c>) of
    /// <paramref name="count"/> prompts, from the factories the plugins registered.
    /// </summary>
    /// <exception cref="UserException">An unknown scheme, an argument its factory refuses, or missing judge weights.</exception>
    public static JudgedEvaluation Open(IEnumerable<IJudgedPromptSetFactory> factories, string source, int count, string judgeWeights, Device device)
    {
        var all = factories.ToList();
        int colon = source.IndexOf(':', StringComparison.Ordinal);
        string scheme = colon < 0 ? source : source[..colon], argument = colon < 0 ? "" : source[(colon + 1)..];
        var factory = all.FirstOrDefault(f => string.Equals(f.Scheme, scheme, StringComparison.OrdinalIgnoreCase))
            ?? throw new UserException(all.Count == 0
                ? $"No judged prompt set '{scheme}' is available: no plugin provides one (the World plugin provides 'world'; `plugins` lists what loaded)."
                : $"Unknown judged prompt set '{scheme}'; available: {string.Join("; ", all.Select(f => f.Usage))}.");
        try
        {
            return new JudgedEvaluation(factory.Open(argument, count, judgeWeights, device));
        }
        catch (ArgumentException e)
        {
            throw new UserException($"--source '{source}': {e.Message}", e);
        }
        catch (FileNotFoundException e)
        {
            throw new UserException($"The judge '{judgeWeights}' does not exist ({e.Message}); pass --judge <file.safetensors>.", e);
        }
    }

    /// <summary>
    /// Draws every prompt with <paramref name="service"/> (at the base's resolution: the cascade is not run) and scores the images.
    /// </summary>
    /// <exception cref="UserException">The settings break a rule of the service (nothing is drawn).</exception>
    /// <exception cref="OperationCanceledException">Cancelled between two sampler steps.</exception>
    public EvaluationResult Run(GenerationService service, EvaluationSettings settings, EvaluationProgress? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(service);
        ArgumentNullException.ThrowIfNull(settings);
        if (settings.Batch < 1) throw new UserException($"The batch must be at least 1 image (got {settings.Batch}).");
        int size = service.Model.Resolution;
        var clock = Stopwatch.StartNew();
        int count = Set.Prompts.Count;
        service.Validate(Request(settings, 0, Math.Min(settings.Batch, count), size));
        var tallies = Set.Attributes.ToDictionary(a => a, _ => default(AttributeTally));
        var features = new List<Tensor>();
        var samples = new List<Tensor>();
        try
        {
            for (int start = 0; start < count; start += settings.Batch)
            {
                int n = Math.Min(settings.Batch, count - start);
                var request = Request(settings, start, n, size);
                int first = start;
                using var result = service.Generate(request, progress is null ? null : (string _, in SamplerStep step) =>
                    progress(first + n * (step.Index + 1) / (double)step.Count, step), cancellationToken);
                using var images = ToJudgeSize(result.Images);
                foreach (var (name, tally) in Set.Judge(images, start)) tallies[name] += tally;
                features.Add(Set.Features(images));
                int keep = Math.Min(n, settings.KeepSamples - start);
                if (keep > 0) samples.Add(images.narrow(0, 0, keep).cpu().clone());
            }
            using var generated = cat(features, 0);
            double fd = FrechetDistance.Between(generated, RealFeatures);
            return new EvaluationResult(new AttributeScores(Set.Attributes, tallies), fd, settings, count, clock.Elapsed)
            {
                Samples = samples.Count == 0 ? null : cat(samples, 0),
            };
        }
        finally
        {
            foreach (var t in features) t.Dispose();
            foreach (var t in samples) t.Dispose();
        }
    }

    // Prompts start..start+n at the base's resolution `size`.
    private GenerationRequest Request(EvaluationSettings settings, int start, int n, int size)
    {
        var prompts = Set.Prompts.Skip(start).Take(n).ToList();
        return new GenerationRequest(prompts[0], settings.Seed + start, settings.Steps, settings.Guidance, n)
        {
            Prompts = prompts, Sampler = settings.Sampler, Schedule = settings.Schedule, Width = size, Height = size,
        };
    }

    // The judge reads images of its own resolution; a model drawing at another one is resampled to it.
    private Tensor ToJudgeSize(Tensor images)
    {
        var cpu = images.cpu().to(ScalarType.Float32);
        if (images.shape[2] == Set.Resolution && images.shape[3] == Set.Resolution) return cpu;
        using (cpu)
            return nn.functional.interpolate(cpu, [Set.Resolution, Set.Resolution], mode: InterpolationMode.Area);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _realFeatures?.Dispose();
        Set.Dispose();
    }
}
