using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Text.Json;
using EDiffI.Extensibility;
using EDiffI.Host.Pipeline;
using EDiffI.Host.Runtime;
using EDiffI.Plugins.World;
using EDiffI.Sampling;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using TorchSharp;
using static TorchSharp.torch;

// Evaluate: generate the world's evaluation prompts with one or more models and score them with the judge.
//   Evaluate --model runs/x/ensembles/three [--model ...] [--device cuda] [--count 512] [--split train|heldout]
//            [--captions short|long] [--guidance 1,2,3] [--steps 24] [--out results.json]
// Prompts: scenes with seeds 1,000,000 + i of the split (never the training stream's seeds), their
// short or long captions. Real images of the same scenes are the reference of the Fréchet distance.
//   Evaluate paint ... / Evaluate style ...: the paint-with-words and style measurements (ControlEvaluation.cs).
//   Evaluate height ...: height-from-albedo network against the luminance heuristic on world ground truth (HeightEvaluation.cs).
//   Evaluate sr ... / Evaluate cascade ...: a super-resolution stage on real renders, the cascade from text (SuperResolutionEvaluation.cs).
if (args.Length > 0 && args[0] == "palette")
{
    var paletteOptions = Args.Parse(args[1..]);
    TorchRuntime.UseTorchLibrary(paletteOptions.Get("torch-lib"));
    return PaletteEvaluation.Run(paletteOptions);
}
if (args.Length > 0 && args[0] == "img2img")
{
    var editOptions = Args.Parse(args[1..]);
    TorchRuntime.UseTorchLibrary(editOptions.Get("torch-lib"));
    return ImageToImageEvaluation.Run(editOptions);
}
if (args.Length > 0 && args[0] == "make-tileable")
{
    var tileOptions = Args.Parse(args[1..]);
    TorchRuntime.UseTorchLibrary(tileOptions.Get("torch-lib"));
    return MakeTileableEvaluation.Run(tileOptions);
}
if (args.Length > 0 && args[0] == "height")
{
    var heightOptions = Args.Parse(args[1..]);
    TorchRuntime.UseTorchLibrary(heightOptions.Get("torch-lib"));
    return HeightEvaluation.Run(heightOptions);
}
if (args.Length > 0 && args[0] is "sr" or "cascade")
{
    var srOptions = Args.Parse(args[1..]);
    TorchRuntime.UseTorchLibrary(srOptions.Get("torch-lib"));
    return args[0] == "sr" ? SuperResolutionEvaluation.Restore(srOptions) : SuperResolutionEvaluation.FromText(srOptions);
}
if (args.Length > 0 && args[0] == "seams")
{
    var textureOptions = Args.Parse(args[1..]);
    TorchRuntime.UseTorchLibrary(textureOptions.Get("torch-lib"));
    return TextureEvaluation.Seams(textureOptions);
}
if (args.Length > 0 && args[0] is "paint" or "style")
{
    var controlOptions = Args.Parse(args[1..]);
    TorchRuntime.UseTorchLibrary(controlOptions.Get("torch-lib"));
    return args[0] == "paint" ? ControlEvaluation.Paint(controlOptions) : ControlEvaluation.Style(controlOptions);
}
var options = Args.Parse(args);
TorchRuntime.UseTorchLibrary(options.Get("torch-lib"));
var device = TorchRuntime.ParseDevice(options.Get("device") ?? "cpu");
int count = int.Parse(options.Get("count") ?? "512", CultureInfo.InvariantCulture);
int steps = int.Parse(options.Get("steps") ?? "24", CultureInfo.InvariantCulture);
int batch = int.Parse(options.Get("batch") ?? "128", CultureInfo.InvariantCulture);
var split = (options.Get("split") ?? "train") == "heldout" ? WorldSplit.HeldOut : WorldSplit.Train;
bool longCaptions = (options.Get("captions") ?? "short") == "long";
var guidances = (options.Get("guidance") ?? "1,2,3").Split(',').Select(g => double.Parse(g, CultureInfo.InvariantCulture)).ToArray();
string judgePath = options.Get("judge") ?? Path.Combine("models", "judge", "judge.safetensors");
var models = options.All("model");
if (models.Count == 0) { Console.Error.WriteLine("pass --model <folder> (one or more)"); return 2; }

using var environment = new EvaluationEnvironment(device, judgePath);
var catalog = environment.Catalog;
var judge = environment.Judge;

var scenes = Enumerable.Range(0, count).Select(i => SceneRenderer.Render(1_000_000 + i, split, 64)).ToList();
var prompts = scenes.Select(s => (longCaptions ? s.Long : s.Short).Text).ToList();
using var real = SceneRenderer.ToImages(scenes.Select(s => s.Rgb));
var realFeatures = environment.JudgeFeatures(real, batch);
var realScores = WorldMetrics.AttributeAgreement(judge, real.to(device), scenes.Select(s => s.Scene).ToList());
Console.WriteLine($"real images: {Format(realScores)}");

var results = new List<object>();
foreach (string model in models)
{
    using var service = environment.Open(model, device, TorchRuntime.ComputeType(device, options.Get("precision") ?? "auto"));
    foreach (double w in guidances)
    {
        var clock = Stopwatch.StartNew();
        var parts = new List<Tensor>();
        for (int start = 0; start < count; start += batch)
        {
            var chunk = prompts.Skip(start).Take(batch).ToList();
            using var result = service.Generate(new GenerationRequest(chunk[0], 7_000_000 + start, steps, w, chunk.Count) { Prompts = chunk });
            parts.Add(result.Images.clone());
        }
        using var generated = cat(parts, 0);
        foreach (var p in parts) p.Dispose();
        Dictionary<string, (long Agree, long Scored)> scores;
        double fd;
        using (no_grad())
        {
            using var onDevice = generated.to(device);
            scores = WorldMetrics.AttributeAgreement(judge, onDevice, scenes.Select(s => s.Scene).ToList());
            using var fake = environment.JudgeFeatures(generated, batch);
            fd = WorldMetrics.FrechetDistance(fake.cpu().to(ScalarType.Float64), realFeatures.cpu().to(ScalarType.Float64));
        }
        double mean = scores.Values.Sum(v => v.Agree) / (double)Math.Max(1, scores.Values.Sum(v => v.Scored));
        Console.WriteLine($"{model} w={w}: FD-judge {fd:0.000}, attribute accuracy {mean:P1} ({clock.Elapsed.TotalSeconds:0.0} s) {Format(scores)}");
        results.Add(new
        {
            model, guidance = w, steps, count, split = split.ToString(), captions = longCaptions ? "long" : "short",
            fdJudge = fd, attributeAccuracy = mean,
            attributes = scores.ToDictionary(kv => kv.Key, kv => kv.Value.Scored == 0 ? double.NaN : kv.Value.Agree / (double)kv.Value.Scored),
            seconds = clock.Elapsed.TotalSeconds, device = device.ToString(),
        });
        if (options.Get("samples") is string dir && w == guidances[^1])
        {
            Directory.CreateDirectory(dir);
            string name = Path.GetFileName(Path.TrimEndingDirectorySeparator(model));
            using var grid = generated.narrow(0, 0, Math.Min(16, count));
            EDiffI.Host.Imaging.ImageFiles.SavePng(EvaluationImages.Grid(grid, 4), Path.Combine(dir, $"{name}-w{w}.png"));
        }
    }
}
if (options.Get("out") is string outPath)
{
    File.WriteAllText(outPath, JsonSerializer.Serialize(new
    {
        real = realScores.ToDictionary(kv => kv.Key, kv => kv.Value.Scored == 0 ? double.NaN : kv.Value.Agree / (double)kv.Value.Scored),
        results,
    }, new JsonSerializerOptions { WriteIndented = true, NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals }));
    Console.WriteLine($"wrote {outPath}");
}
return 0;

static string Format(Dictionary<string, (long Agree, long Scored)> scores) =>
    string.Join(", ", scores.Where(kv => kv.Value.Scored > 0).Select(kv => $"{kv.Key} {kv.Value.Agree / (double)kv.Value.Scored:P1}"));

/// <summary>--name value pairs; a name may repeat.</summary>
internal sealed class Args
{
    private readonly List<(string Name, string Value)> _pairs = [];
    public static Args Parse(string[] args)
    {
        var a = new Args();
        for (int i = 0; i < args.Length; i++)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal) || i + 1 >= args.Length) throw new ArgumentException($"expected --name value at '{args[i]}'");
            a._pairs.Add((args[i][2..], args[++i]));
        }
        return a;
    }
    public string? Get(string name) => _pairs.LastOrDefault(p => p.Name == name).Value;
    public List<string> All(string name) => _pairs.Where(p => p.Name == name).Select(p => p.Value).ToList();
}
