using EDiffI.Evaluation;
using TorchSharp;
using static TorchSharp.torch;

namespace EDiffI.Plugins.World;

/// <summary>
/// "world:train" or "world:heldout", optionally with ",short" (the default) or ",long" captions: the scenes of seeds
/// 1,000,000 + i of the split, which the training stream never draws, judged by <see cref="WorldJudge"/> on what
/// their captions name (<see cref="SceneDetail"/>: a short caption names no positions, scale, orientation, density
/// or thickness, so those are not held against the image).
/// </summary>
public sealed class WorldPromptSetFactory : IJudgedPromptSetFactory
{
    /// <summary>The seed of the first evaluation scene; training draws its scenes from other seeds.</summary>
    public const long FirstSeed = 1_000_000;

    /// <inheritdoc />
    public string Scheme => "world";

    /// <inheritdoc />
    public string Usage => "world:train or world:heldout, optionally followed by ,short or ,long captions (default short)";

    /// <inheritdoc />
    public IJudgedPromptSet Open(string argument, int count, string judgeWeights, Device device)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        var parts = argument.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        var split = parts.Length == 0 || parts[0] == "train" ? WorldSplit.Train
            : parts[0] is "heldout" or "held-out" ? WorldSplit.HeldOut
            : throw new ArgumentException($"unknown world split '{parts[0]}' ({Usage})", nameof(argument));
        bool longCaptions = parts.Length < 2 || parts[1] == "short" ? false
            : parts[1] == "long" ? true
            : throw new ArgumentException($"unknown caption style '{parts[1]}' ({Usage})", nameof(argument));
        if (parts.Length > 2) throw new ArgumentException($"'{argument}' has more parts than a split and a caption style ({Usage})", nameof(argument));
        if (!File.Exists(judgeWeights)) throw new FileNotFoundException($"no judge weights at '{judgeWeights}'", judgeWeights);
        return new WorldPromptSet(split, longCaptions, count, judgeWeights, device);
    }
}

/// <summary>The scenes, their captions and real renders, and the judge on its device.</summary>
internal sealed class WorldPromptSet : IJudgedPromptSet
{
    private const int Size = 64;
    private const int JudgeBatch = 64;
    private readonly IReadOnlyList<Scene> _scenes;
    private readonly WorldJudge _judge;
    private readonly Device _device;
    private readonly SceneDetail _detail;

    public WorldPromptSet(WorldSplit split, bool longCaptions, int count, string judgeWeights, Device device)
    {
        var rendered = Enumerable.Range(0, count).Select(i => SceneRenderer.Render(WorldPromptSetFactory.FirstSeed + i, split, Size)).ToList();
        _scenes = rendered.Select(r => r.Scene).ToList();
        Prompts = rendered.Select(r => (longCaptions ? r.Long : r.Short).Text).ToList();
        RealImages = SceneRenderer.ToImages(rendered.Select(r => r.Rgb));
        _judge = new WorldJudge();
        try
        {
            EDiffI.IO.SafeTensorsWeights.Load(_judge, judgeWeights);
            _judge.eval();
            _judge.to(device);
        }
        catch
        {
            _judge.Dispose();
            RealImages.Dispose();
            throw;
        }
        _device = device;
        _detail = longCaptions ? SceneDetail.Full : SceneDetail.ShortCaption;
    }

    public int Resolution => Size;

    public IReadOnlyList<string> Prompts { get; }

    public IReadOnlyList<string> Attributes { get; } = [.. SceneLabels.BackgroundNames, "object shape", "object colour"];

    public Tensor RealImages { get; }

    public IReadOnlyDictionary<string, AttributeTally> Judge(Tensor images, int first)
    {
        long n = images.shape[0];
        if (first < 0 || first + n > _scenes.Count) throw new ArgumentOutOfRangeException(nameof(first), $"images {first} to {first + n - 1} of {_scenes.Count} scenes");
        var total = Attributes.ToDictionary(a => a, _ => default(AttributeTally));
        for (long start = 0; start < n; start += JudgeBatch)
        {
            long take = Math.Min(JudgeBatch, n - start);
            using var chunk = images.narrow(0, start, take).to(ScalarType.Float32).to(_device);
            var scenes = _scenes.Skip(first + (int)start).Take((int)take).ToList();
            foreach (var (name, (agree, scored)) in WorldMetrics.AttributeAgreement(_judge, chunk, scenes, _detail))
                total[name] += new AttributeTally(agree, scored);
        }
        return total;
    }

    public Tensor Features(Tensor images)
    {
        using var noGrad = no_grad();
        var parts = new List<Tensor>();
        try
        {
            for (long start = 0; start < images.shape[0]; start += JudgeBatch)
            {
                using var chunk = images.narrow(0, start, Math.Min(JudgeBatch, images.shape[0] - start)).to(ScalarType.Float32).to(_device);
                using var features = _judge.Features(chunk);
                parts.Add(features.cpu());
            }
            return cat(parts, 0);
        }
        finally
        {
            foreach (var p in parts) p.Dispose();
        }
    }

    public void Dispose()
    {
        _judge.Dispose();
        RealImages.Dispose();
    }
}
