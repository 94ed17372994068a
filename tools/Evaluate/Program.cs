using System.Globalization;
using System.Text.Json;
using EDiffI.Evaluation;
using EDiffI.Host.Evaluation;
using EDiffI.Host.Runtime;

// Evaluate: generate the world's evaluation prompts with one or more models and score them with the judge.
//   Evaluate --model runs/x/ensembles/three [--model ...] [--device cuda] [--count 512] [--split train|heldout]
//            [--captions short|long] [--guidance 1,2,3] [--steps 24] [--out results.json] [--samples <folder>]
// Prompts: scenes with seeds 1,000,000 + i of the split (never the training stream's seeds), their
// short or long captions. Real images of the same scenes are the reference of the Fréchet distance.
// This mode is the host's judged evaluation (Host/Evaluation), run for several models and guidance weights;
// `EDiffI.Host eval` runs the same for one model and writes a report. attributeAccuracy is the mean over
// attributes; pooledAccuracy (all agreeing readings over all readings) is the figure of results before it.
//   Evaluate paint ... / Evaluate style ...: the paint-with-words and style measurements (ControlEvaluation.cs).
//   Evaluate height ...: height-from-albedo network against the luminance heuristic on world ground truth (HeightEvaluation.cs).
//   Evaluate sr ... / Evaluate cascade ...: a super-resolution stage on real renders, the cascade from text (SuperResolutionEvaluation.cs).
//   Evaluate plot ...: Figure 7/8-style plots and training curves from results already written (PlotEvaluation.cs).
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
if (args.Length > 0 && args[0] == "plot")
    return PlotEvaluation.Run(Args.Parse(args[1..])); // results already on disk, no model: PlotEvaluation.cs
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
var settings = new EvaluationSettings(
    Steps: int.Parse(options.Get("steps") ?? "24", CultureInfo.InvariantCulture),
    Batch: int.Parse(options.Get("batch") ?? "128", CultureInfo.InvariantCulture))
{ KeepSamples = options.Get("samples") is null ? 0 : Math.Min(16, count) };
string split = options.Get("split") ?? "train", captions = options.Get("captions") ?? "short";
var guidances = (options.Get("guidance") ?? "1,2,3").Split(',').Select(g => double.Parse(g, CultureInfo.InvariantCulture)).ToArray();
string judgePath = options.Get("judge") ?? Path.Combine("models", "judge", "judge.safetensors");
var models = options.All("model");
if (models.Count == 0) { Console.Error.WriteLine("pass --model <folder> (one or more)"); return 2; }

// The judged evaluation is the host's (Host/Evaluation/JudgedEvaluation.cs), the one the `eval` verb runs.
using var environment = new EvaluationEnvironment(device, judgePath);
using var evaluation = JudgedEvaluation.Open(environment.Get<IEnumerable<IJudgedPromptSetFactory>>(), $"world:{split},{captions}", count, judgePath, device);
Console.WriteLine($"real images: {Format(evaluation.Real)}");
if (evaluation.Chance is { } chance) Console.WriteLine($"chance (real images of other scenes): mean {chance.Mean:P1}, {Format(chance)}");

var results = new List<object>();
foreach (string model in models)
{
    using var service = environment.OpenCascade(model, device, TorchRuntime.ComputeType(device, options.Get("precision") ?? "auto"));
    foreach (double w in guidances)
    {
        using var result = evaluation.Run(service, settings with { Guidance = w });
        Console.WriteLine($"{model} w={w}: FD-judge {result.FdJudge:0.000}, attribute accuracy {result.Scores.Mean:P1} (pooled {result.Scores.Pooled:P1}, {result.Elapsed.TotalSeconds:0.0} s) {Format(result.Scores)}");
        results.Add(new
        {
            model, guidance = w, steps = settings.Steps, count, split = split == "heldout" ? "HeldOut" : "Train", captions,
            fdJudge = result.FdJudge, attributeAccuracy = result.Scores.Mean, pooledAccuracy = result.Scores.Pooled,
            attributes = Shares(result.Scores), seconds = result.Elapsed.TotalSeconds, device = device.ToString(),
        });
        if (options.Get("samples") is string dir && w == guidances[^1] && result.Samples is { } samples)
        {
            Directory.CreateDirectory(dir);
            string name = Path.GetFileName(Path.TrimEndingDirectorySeparator(model));
            using var grid = EvaluationImages.Grid(samples, 4);
            EDiffI.Host.Imaging.ImageFiles.SavePng(grid, Path.Combine(dir, $"{name}-w{w}.png"));
        }
    }
}
if (options.Get("out") is string outPath)
{
    File.WriteAllText(outPath, JsonSerializer.Serialize(new { real = Shares(evaluation.Real), chance = evaluation.Chance is { } c ? Shares(c) : null, results },
        new JsonSerializerOptions { WriteIndented = true, NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals }));
    Console.WriteLine($"wrote {outPath}");
}
return 0;

static string Format(AttributeScores scores) =>
    string.Join(", ", scores.Attributes.Where(a => scores.Accuracy(a) is not null).Select(a => $"{a} {scores.Accuracy(a):P1}"));

static Dictionary<string, double> Shares(AttributeScores scores) => scores.Attributes.ToDictionary(a => a, a => scores.Accuracy(a) ?? double.NaN);

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
