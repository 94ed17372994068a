using System.Collections.Concurrent;
using System.Diagnostics;
using EDiffI.IO;
using EDiffI.Plugins.World;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

// judge train --device cuda --seconds 240 --out models/judge [--splits train,heldout]
// judge eval  --device cuda --model models/judge --count 20000 [--split heldout]
string verb = args.Length > 0 ? args[0] : "help";
string Arg(string name, string fallback) { int i = Array.IndexOf(args, name); return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback; }
var device = new Device(Arg("--device", "cpu"));
const int Size = 64;
const string WeightsFile = "judge.safetensors";

switch (verb)
{
    case "train": Train(); break;
    case "eval": Evaluate(); break;
    default: Console.WriteLine("usage: judge train|eval --device cpu|cuda [--seconds N --out DIR --batch N --splits train,heldout] [--model DIR --count N --split train|heldout]"); break;
}

// A labelled batch: images [B, 3, 64, 64], background labels [7, B] (-100 where invisible), cell shapes and colours [B, 9].
(Tensor Images, Tensor Background, Tensor Shapes, Tensor Colors) Batch(long firstSeed, int n, WorldSplit split)
{
    var pixels = new byte[n * Size * Size * 3];
    var bg = new long[7 * n];
    var shapes = new long[n * 9];
    var colors = new long[n * 9];
    Parallel.For(0, n, i =>
    {
        var scene = SceneSampler.Sample(firstSeed + i, split);
        SceneRenderer.Render(scene, Size, pixels.AsSpan(i * Size * Size * 3, Size * Size * 3), out _);
        var labels = SceneLabels.Of(scene);
        var b = labels.Background;
        for (int a = 0; a < 7; a++) bg[a * n + i] = SceneLabels.Visible(a, scene.Background.Family) ? b[a] : -100;
        for (int c = 0; c < 9; c++) { shapes[i * 9 + c] = labels.CellShape[c]; colors[i * 9 + c] = labels.CellColor[c]; }
    });
    using var scope = NewDisposeScope();
    var images = SceneRenderer.ToImages(pixels, n, Size);
    return (images.MoveToOuterDisposeScope(), tensor(bg, [7, n]).MoveToOuterDisposeScope(),
            tensor(shapes, [n, 9]).MoveToOuterDisposeScope(), tensor(colors, [n, 9]).MoveToOuterDisposeScope());
}

void Train()
{
    int batch = int.Parse(Arg("--batch", "256"));
    double seconds = double.Parse(Arg("--seconds", "240"));
    string output = Arg("--out", "models/judge");
    // The judge scores generated images of any prompt, held-out combinations included, so by default it learns from
    // both splits of the world (the held-out split only withholds combinations from the generator's training).
    var splits = Arg("--splits", "train,heldout").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
        .Select(name => name switch
        {
            "train" => WorldSplit.Train,
            "heldout" => WorldSplit.HeldOut,
            _ => throw new ArgumentException($"--splits takes train and/or heldout, not '{name}'"),
        }).Distinct().ToArray();
    if (splits.Length == 0) throw new ArgumentException("--splits names no split");
    manual_seed(1);
    using var judge = new WorldJudge();
    judge.to(device);
    judge.train();
    var optimizer = optim.AdamW(judge.parameters(), 2e-3, weight_decay: 1e-4);
    // Data is drawn on CPU threads while the GPU trains on the previous batches.
    using var queue = new BlockingCollection<(Tensor, Tensor, Tensor, Tensor)>(8);
    using var stop = new CancellationTokenSource();
    var producers = Enumerable.Range(0, 2 * splits.Length).Select(w => Task.Run(() =>
    {
        long seed = 1_000_000_000L * (w + 1);
        var split = splits[w % splits.Length];
        while (!stop.IsCancellationRequested)
        {
            var b = Batch(seed, batch, split);
            seed += batch;
            try { queue.Add(b, stop.Token); } catch (OperationCanceledException) { break; }
        }
    })).ToList();
    var clock = Stopwatch.StartNew();
    long step = 0;
    while (clock.Elapsed.TotalSeconds < seconds)
    {
        var (x, bg, shapes, colors) = queue.Take();
        using var scope = NewDisposeScope();
        x = x.MoveToOtherDisposeScope(scope); bg = bg.MoveToOtherDisposeScope(scope);
        shapes = shapes.MoveToOtherDisposeScope(scope); colors = colors.MoveToOtherDisposeScope(scope);
        // Linear decay of the learning rate over the time budget.
        foreach (var g in optimizer.ParamGroups) g.LearningRate = 2e-3 * Math.Max(0.02, 1 - clock.Elapsed.TotalSeconds / seconds);
        var (heads, cellShape, cellColor) = judge.forward(x.to(device));
        var bgd = bg.to(device);
        var loss = zeros(1, device: device);
        for (int a = 0; a < heads.Length; a++) loss = loss + F.cross_entropy(heads[a], bgd[a], ignore_index: -100);
        loss = loss + F.cross_entropy(cellShape.reshape(-1, SceneLabels.ShapeClasses), shapes.to(device).flatten())
                    + F.cross_entropy(cellColor.reshape(-1, SceneLabels.ColorClasses), colors.to(device).flatten());
        optimizer.zero_grad();
        loss.backward();
        optimizer.step();
        step++;
        if (step % 200 == 0)
            Console.WriteLine($"step {step} loss {loss.item<float>():0.0000} {step * batch / clock.Elapsed.TotalSeconds:0} img/s");
    }
    stop.Cancel();
    while (queue.TryTake(out var left)) { left.Item1.Dispose(); left.Item2.Dispose(); left.Item3.Dispose(); left.Item4.Dispose(); }
    Task.WaitAll(producers.ToArray(), TimeSpan.FromSeconds(30));
    judge.cpu();
    Directory.CreateDirectory(output);
    SafeTensorsWeights.Save(judge, Path.Combine(output, WeightsFile), ScalarType.Float16);
    Console.WriteLine($"trained {step} steps ({step * batch} images) in {clock.Elapsed.TotalSeconds:0} s; wrote {output}/{WeightsFile}");
}

void Evaluate()
{
    string folder = Arg("--model", "models/judge");
    int count = int.Parse(Arg("--count", "20000"));
    var split = Arg("--split", "train") == "heldout" ? WorldSplit.HeldOut : WorldSplit.Train;
    using var judge = new WorldJudge();
    SafeTensorsWeights.Load(judge, Path.Combine(folder, WeightsFile));
    judge.to(device);
    judge.eval();
    var correct = new long[7]; var total = new long[7];
    long shapeOk = 0, colorOk = 0, objects = 0, presenceOk = 0, cells = 0;
    using var noGrad = no_grad();
    // Fresh seeds, far from any used in training.
    for (long seed = 7_000_000_000_000L; seed < 7_000_000_000_000L + count; seed += 500)
    {
        using var scope = NewDisposeScope();
        var (x, bg, shapes, colors) = Batch(seed, 500, split);
        var (heads, cellShape, cellColor) = judge.forward(x.to(device));
        for (int a = 0; a < 7; a++)
        {
            var label = bg[a];
            var visible = label.ne(-100);
            var predicted = heads[a].argmax(1).cpu();
            correct[a] += predicted.eq(label).logical_and(visible).sum().item<long>();
            total[a] += visible.sum().item<long>();
        }
        var ps = cellShape.argmax(2).cpu(); var pc = cellColor.argmax(2).cpu();
        var present = shapes.gt(0);
        objects += present.sum().item<long>();
        shapeOk += ps.eq(shapes).logical_and(present).sum().item<long>();
        colorOk += pc.eq(colors).logical_and(present).sum().item<long>();
        presenceOk += ps.gt(0).eq(present).sum().item<long>();
        cells += present.numel();
    }
    Console.WriteLine($"judge on {count} fresh {split} scenes:");
    Console.WriteLine("| attribute | accuracy | scored |");
    Console.WriteLine("| --- | --- | --- |");
    for (int a = 0; a < 7; a++)
        Console.WriteLine($"| {SceneLabels.BackgroundNames[a]} | {100.0 * correct[a] / total[a]:0.00}% | {total[a]} |");
    Console.WriteLine($"| object shape | {100.0 * shapeOk / objects:0.00}% | {objects} |");
    Console.WriteLine($"| object colour | {100.0 * colorOk / objects:0.00}% | {objects} |");
    Console.WriteLine($"| object position (per-cell presence) | {100.0 * presenceOk / cells:0.00}% | {cells} |");
}
