using System.Reflection;
using EDiffI.Extensibility;
using EDiffI.Host.Pipeline;
using EDiffI.Plugins.World;
using EDiffI.Sampling;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using TorchSharp;
using static TorchSharp.torch;

/// <summary>
/// What every evaluation needs: the plugins this tool references, registered the way the host registers
/// the plugins it loads, the Heun sampler with Karras σ, and the world's judge on the device.
/// </summary>
internal sealed class EvaluationEnvironment : IDisposable
{
    private static readonly Type[] PluginTypes =
    [
        typeof(EDiffI.Plugins.UNet.UNetFamily), typeof(EDiffI.Plugins.Sampling.HeunSampler),
        typeof(EDiffI.Plugins.TextHash.WordHashEncoderFactory), typeof(EDiffI.Plugins.Experts.SigmaIntervalRouter),
        typeof(EDiffI.Plugins.T5.T5Plugin), typeof(EDiffI.Plugins.Clip.ClipPlugin),
        typeof(EDiffI.Plugins.PaintWithWords.PaintWithWordsPlugin), typeof(EDiffI.Plugins.SuperResolution.SuperResolutionPlugin),
        typeof(EDiffI.Plugins.World.WorldPlugin),
    ];

    private readonly ServiceProvider _provider;

    public EvaluationEnvironment(Device device, string judgePath)
    {
        var services = new ServiceCollection();
        var configuration = new ConfigurationBuilder().Build();
        services.AddSingleton<IConfiguration>(configuration);
        foreach (var assembly in PluginTypes.Select(t => t.Assembly))
        {
            var manifest = assembly.GetCustomAttribute<EDiffIPluginAttribute>() ?? throw new InvalidOperationException($"{assembly} is not a plugin");
            ((IPluginRegistration)Activator.CreateInstance(manifest.Registration)!).Register(services, configuration);
        }
        services.AddSingleton<ModelCatalog>();
        _provider = services.BuildServiceProvider();
        Catalog = _provider.GetRequiredService<ModelCatalog>();
        Sampler = _provider.GetServices<ISampler>().First(s => s.Name == "heun");
        Schedule = _provider.GetServices<ISigmaSchedule>().First(s => s.Name == "karras");
        if (!File.Exists(judgePath)) throw new FileNotFoundException($"no judge at '{judgePath}' (pass --judge)", judgePath);
        // Loaded on first use: the judged evaluation (JudgedEvaluation) opens its own through the world's prompt set, so
        // the default mode would otherwise load it twice.
        _judge = new Lazy<WorldJudge>(() =>
        {
            var judge = new WorldJudge();
            EDiffI.IO.SafeTensorsWeights.Load(judge, judgePath);
            judge.eval();
            judge.to(device);
            return judge;
        });
        Device = device;
    }

    private readonly Lazy<WorldJudge> _judge;

    public ModelCatalog Catalog { get; }
    public ISampler Sampler { get; }
    public ISigmaSchedule Schedule { get; }
    public WorldJudge Judge => _judge.Value;
    public Device Device { get; }
    public T Get<T>() where T : notnull => _provider.GetRequiredService<T>();

    /// <summary>The judge's features of <paramref name="images"/> (on the CPU), <paramref name="batch"/> at a time on the device.</summary>
    public Tensor JudgeFeatures(Tensor images, int batch)
    {
        using var noGrad = no_grad();
        var parts = new List<Tensor>();
        for (long start = 0; start < images.shape[0]; start += batch)
        {
            using var chunk = images.narrow(0, start, Math.Min(batch, images.shape[0] - start)).to(Device);
            parts.Add(Judge.Features(chunk).cpu());
        }
        var all = cat(parts, 0);
        foreach (var p in parts) p.Dispose();
        return all;
    }

    /// <summary>Loads a model folder as a generation service with the evaluation's sampler and schedule.</summary>
    public GenerationService Open(string model, Device device, ScalarType computeType, IEnumerable<EDiffI.Conditioning.IConditioner>? conditioners = null) =>
        new(TextToImagePipeline.Load(model, Catalog, device, computeType), [Sampler], [Schedule], conditioners);

    /// <summary>Loads a model folder with its super-resolution cascade, as the host's generate does.</summary>
    public GenerationService OpenCascade(string model, Device device, ScalarType computeType, IEnumerable<EDiffI.Conditioning.IConditioner>? conditioners = null) =>
        new GenerationServiceFactory(Catalog, [Sampler], [Schedule], conditioners ?? [], _provider.GetRequiredService<IConfiguration>(),
            _provider.GetServices<EDiffI.SuperResolution.ISuperResolutionFamily>()).Open(model, device, computeType);

    public void Dispose()
    {
        if (_judge.IsValueCreated) _judge.Value.Dispose();
        _provider.Dispose();
    }
}

/// <summary>Image helpers of the evaluations.</summary>
internal static class EvaluationImages
{
    /// <summary>Images [N, 3, H, W] laid out in rows of <paramref name="columns"/>, [3, rows·H, columns·W].</summary>
    public static Tensor Grid(Tensor images, int columns)
    {
        long n = images.shape[0], rows = (n + columns - 1) / columns;
        var padded = n == rows * columns ? images : cat([images, zeros(rows * columns - n, 3, images.shape[2], images.shape[3])], 0);
        return padded.view(rows, columns, 3, images.shape[2], images.shape[3]).permute(2, 0, 3, 1, 4)
            .reshape(3, rows * images.shape[2], columns * images.shape[3]);
    }

    /// <summary>Nearest-neighbour enlargement by an integer <paramref name="factor"/>, for figures.</summary>
    public static Tensor Enlarge(Tensor images, int factor) =>
        images.repeat_interleave(factor, 2).repeat_interleave(factor, 3);
}
