using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using EDiffI.Host.Imaging;
using EDiffI.Host.Pipeline;
using EDiffI.Host.Runtime;
using EDiffI.Networks;
using EDiffI.Plugins.World;
using static TorchSharp.torch;

/// <summary>
/// The textures issue's measurements: the seam ratio (wrap-edge difference over neighbouring interior differences,
/// per axis) of generated textures with and without tiling, over many prompts and seeds, and 2×2 repeats to look at.
/// </summary>
internal static class TextureEvaluation
{
    // The coarsest cell of the shipped networks: three 2× downsamplings (every level of the base and of the stages).
    private const int Phase = 8;

    internal static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>An image (C×H×W) repeated 2×2, as the figures show textures.</summary>
    internal static Tensor Repeat2x2(Tensor image) => cat([cat([image, image], 2), cat([image, image], 2)], 1);

    /// <summary>
    /// Evaluate seams --model models/default [--size 64] [--count 16] [--seeds 2] [--steps model's] [--tile none,x,y,xy,xy:fixed (no per-evaluation shift)]
    /// [--device cpu] [--figure repeats.png] [--out seams.json]
    /// </summary>
    public static int Seams(Args o)
    {
        string model = o.Get("model") ?? Path.Combine("models", "default");
        var device = TorchRuntime.ParseDevice(o.Get("device") ?? "cpu");
        int size = int.Parse(o.Get("size") ?? "64", CultureInfo.InvariantCulture);
        int count = int.Parse(o.Get("count") ?? "16", CultureInfo.InvariantCulture);
        int seeds = int.Parse(o.Get("seeds") ?? "2", CultureInfo.InvariantCulture);
        int? steps = o.Get("steps") is { } st ? int.Parse(st, CultureInfo.InvariantCulture) : null;
        // "xy" tiles with the per-evaluation shifts (the default), "xy:fixed" with circular padding alone.
        var modes = (o.Get("tile") ?? "none,xy").Split(',').Select(t =>
        {
            var parts = t.Split(':');
            var axes = Tiling.Parse(parts[0]) ?? throw new ArgumentException($"unknown tiling '{t}'");
            bool shift = parts.Length == 1 ? true
                : parts.Length == 2 && parts[1] == "fixed" ? false
                : throw new ArgumentException($"unknown tiling '{t}' (x, y, xy, none, or an axis with ':fixed')");
            return (Axes: axes, Shift: shift, Name: Tiling.Name(axes) + (shift || axes == TileAxes.None ? "" : ":fixed"));
        }).ToList();
        string judge = o.Get("judge") ?? Path.Combine("models", "judge", "judge.safetensors");
        using var environment = new EvaluationEnvironment(device, judge);
        using var service = environment.OpenCascade(model, device, TorchRuntime.ComputeType(device, o.Get("precision") ?? "auto"));
        // Fresh scenes of the held-out split: their short captions are the prompts.
        var prompts = Enumerable.Range(0, count).Select(i => SceneRenderer.Render(3_000_000 + i, WorldSplit.HeldOut, 64).Short.Text).ToList();
        var results = new List<object>();
        var figure = new List<Tensor>();
        foreach (var (tiling, shift, name) in modes)
        {
            var clock = Stopwatch.StartNew();
            var ratioX = new List<double>();
            var ratioY = new List<double>();
            var phaseX = new List<double>();
            var phaseY = new List<double>();
            for (int i = 0; i < count; i++)
            {
                var request = new GenerationRequest(prompts[i], 40_000 + (long)i * seeds, steps, Batch: seeds) { Width = size, Height = size, Tiling = tiling, TileShift = shift };
                using var result = service.Generate(request);
                for (int j = 0; j < seeds; j++)
                {
                    using var image = result.Images[j];
                    ratioX.Add(Tiling.SeamRatio(image, TileAxes.X));
                    ratioY.Add(Tiling.SeamRatio(image, TileAxes.Y));
                    phaseX.Add(Tiling.SeamRatio(image, TileAxes.X, Phase));
                    phaseY.Add(Tiling.SeamRatio(image, TileAxes.Y, Phase));
                    if (i < 4 && j == 0) figure.Add(TextureEvaluation.Repeat2x2(image));
                }
            }
            Console.WriteLine($"tile {name,-8} at {size}: seam ratio x {ratioX.Average():0.00} (max {ratioX.Max():0.00}), y {ratioY.Average():0.00} (max {ratioY.Max():0.00}) over {ratioX.Count} images; against boundaries of {Phase}-pixel cells only: x {phaseX.Average():0.00}, y {phaseY.Average():0.00} ({clock.Elapsed.TotalSeconds:0} s)");
            results.Add(new { tiling = name, images = ratioX.Count, seamX = ratioX.Average(), seamXMax = ratioX.Max(), seamY = ratioY.Average(), seamYMax = ratioY.Max(), seamXCells = phaseX.Average(), seamYCells = phaseY.Average() });
        }
        if (o.Get("figure") is { } path && figure.Count > 0)
        {
            // One row per tiling mode, four prompts each, every texture repeated 2×2.
            using var stacked = stack(figure);
            using var grid = EvaluationImages.Grid(stacked, Math.Min(4, figure.Count));
            ImageFiles.SavePng(grid, path);
            Console.WriteLine($"wrote {path}");
        }
        foreach (var f in figure) f.Dispose();
        if (o.Get("out") is { } outPath)
            File.WriteAllText(outPath, JsonSerializer.Serialize(new { model, device = device.ToString(), size, count, seeds, steps, results }, Indented));
        return 0;
    }
}

/// <summary>Make-tileable on real world renders whose wrap seam was cut into view: the seam ratio before and after, and the
/// largest change outside the repaired band (which must be none).</summary>
internal static class MakeTileableEvaluation
{
    /// <summary>Evaluate make-tileable --model models/default [--count 32] [--steps model's] [--resample 1] [--device cpu] [--figure f.png] [--out f.json]
    /// (--resample: RePaint's resampling, each piece of the schedule run that many times)</summary>
    public static int Run(Args o)
    {
        string model = o.Get("model") ?? Path.Combine("models", "default");
        var device = TorchRuntime.ParseDevice(o.Get("device") ?? "cpu");
        int count = int.Parse(o.Get("count") ?? "32", CultureInfo.InvariantCulture);
        int? steps = o.Get("steps") is { } st ? int.Parse(st, CultureInfo.InvariantCulture) : null;
        int resample = int.Parse(o.Get("resample") ?? "1", CultureInfo.InvariantCulture);
        string judge = o.Get("judge") ?? Path.Combine("models", "judge", "judge.safetensors");
        using var environment = new EvaluationEnvironment(device, judge);
        using var service = environment.OpenCascade(model, device, TorchRuntime.ComputeType(device, o.Get("precision") ?? "auto"));
        using var keep = 1 - EDiffI.Host.Pipeline.EditPlan.SeamMask(64, TileAxes.Both); // 1 where make-tileable must not touch
        var beforeX = new List<double>();
        var beforeY = new List<double>();
        var afterX = new List<double>();
        var afterY = new List<double>();
        double worstOutside = 0;
        var figure = new List<Tensor>();
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < count; i++)
        {
            // A held-out scene rendered at 96 and cut to 64 at an offset that varies: its wrap edges no longer meet.
            var scene = SceneRenderer.Render(7_000_000 + i, WorldSplit.HeldOut, 96);
            using var rendered = SceneRenderer.ToImages([scene.Rgb]);
            int ox = i * 7 % 32, oy = i * 13 % 32;
            using var cut = rendered[0][.., oy..(oy + 64), ox..(ox + 64)].contiguous();
            var rgba = ImageFiles.ToRgba8(cut, out int w, out int h);
            var request = new GenerationRequest(scene.Short.Text, 80_000 + i, steps)
            { Width = 64, Height = 64, Init = new EDiffI.Conditioning.ConditionerImage(rgba, w, h), MakeTileable = true, Resample = resample };
            using var result = service.Generate(request);
            using var got = result.Images[0];
            // The init as the service saw it (RGBA8 round trip), so "unchanged" is exact.
            using var seen = ImageFiles.FromRgba8(rgba, w, h);
            beforeX.Add(Tiling.SeamRatio(seen, TileAxes.X));
            beforeY.Add(Tiling.SeamRatio(seen, TileAxes.Y));
            afterX.Add(Tiling.SeamRatio(got, TileAxes.X));
            afterY.Add(Tiling.SeamRatio(got, TileAxes.Y));
            using (no_grad())
                worstOutside = Math.Max(worstOutside, ((got - seen).abs() * keep.squeeze(0)).max().item<float>() / 2);
            if (i < 4)
            {
                figure.Add(TextureEvaluation.Repeat2x2(seen));
                figure.Add(TextureEvaluation.Repeat2x2(got));
            }
        }
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"make-tileable (resample {resample}) over {count} cut world renders: seam ratio x {beforeX.Average():0.00} → {afterX.Average():0.00} (max after {afterX.Max():0.00}), " +
            $"y {beforeY.Average():0.00} → {afterY.Average():0.00} (max after {afterY.Max():0.00}); largest change outside the band {worstOutside:0.000000} of the pixel range ({clock.Elapsed.TotalSeconds:0} s)"));
        if (o.Get("figure") is { } path && figure.Count > 0)
        {
            // Pairs: the cut render repeated 2×2, then the repaired one.
            using var stacked = stack(figure);
            using var grid = EvaluationImages.Grid(stacked, 4);
            ImageFiles.SavePng(grid, path);
            Console.WriteLine($"wrote {path}");
        }
        foreach (var f in figure) f.Dispose();
        if (o.Get("out") is { } outPath)
            File.WriteAllText(outPath, JsonSerializer.Serialize(new
            {
                model, device = device.ToString(), count, steps, resample,
                seamXBefore = beforeX.Average(), seamYBefore = beforeY.Average(), seamXAfter = afterX.Average(), seamYAfter = afterY.Average(),
                seamXAfterMax = afterX.Max(), seamYAfterMax = afterY.Max(), largestChangeOutsideBand = worstOutside,
            }, TextureEvaluation.Indented));
        return 0;
    }
}

/// <summary>img2img against strength: how much of the init survives (the judge's attribute readings agreeing with the init's
/// scene, and the pixel distance) and how much the prompt takes over (agreement with the prompt's scene).</summary>
internal static class ImageToImageEvaluation
{
    /// <summary>Evaluate img2img --model models/default [--count 16] [--strengths 0,0.25,0.5,0.75,1] [--steps 32] [--device cpu] [--figure f.png]</summary>
    public static int Run(Args o)
    {
        string model = o.Get("model") ?? Path.Combine("models", "default");
        var device = TorchRuntime.ParseDevice(o.Get("device") ?? "cpu");
        int count = int.Parse(o.Get("count") ?? "16", CultureInfo.InvariantCulture);
        int? steps = o.Get("steps") is { } st ? int.Parse(st, CultureInfo.InvariantCulture) : null;
        var strengths = (o.Get("strengths") ?? "0,0.25,0.5,0.75,1").Split(',').Select(v => double.Parse(v, CultureInfo.InvariantCulture)).ToList();
        string judge = o.Get("judge") ?? Path.Combine("models", "judge", "judge.safetensors");
        using var environment = new EvaluationEnvironment(device, judge);
        using var service = environment.OpenCascade(model, device, TorchRuntime.ComputeType(device, o.Get("precision") ?? "auto"));
        // Init: a held-out scene's 64 render; prompt: the next scene's caption (another family, colours and objects).
        var inits = Enumerable.Range(0, count).Select(i => SceneRenderer.Render(5_000_000 + i, WorldSplit.HeldOut, 64)).ToList();
        var targets = Enumerable.Range(0, count).Select(i => SceneRenderer.Render(5_000_000 + i + 1, WorldSplit.HeldOut, 64)).ToList();
        using var real = SceneRenderer.ToImages(inits.Select(s => s.Rgb));
        var figure = new List<Tensor>();
        foreach (double strength in strengths)
        {
            var clock = Stopwatch.StartNew();
            var parts = new List<Tensor>();
            for (int i = 0; i < count; i++)
            {
                using var init = real[i];
                var rgba = ImageFiles.ToRgba8(init, out int w, out int h);
                var request = new GenerationRequest(targets[i].Short.Text, 60_000 + i, steps)
                { Width = 64, Height = 64, Init = new EDiffI.Conditioning.ConditionerImage(rgba, w, h), Strength = strength };
                using var result = service.Generate(request);
                parts.Add(result.Images.clone());
            }
            using var generated = cat(parts, 0);
            foreach (var p in parts) p.Dispose();
            double Agreement(IReadOnlyList<RenderedScene> scenes)
            {
                using var onDevice = generated.to(device);
                var scores = WorldMetrics.AttributeAgreement(environment.Judge, onDevice, scenes.Select(s => s.Scene).ToList());
                return scores.Values.Sum(v => v.Agree) / (double)Math.Max(1, scores.Values.Sum(v => v.Scored));
            }
            double keep, follow, distance;
            using (no_grad())
            {
                keep = Agreement(inits);
                follow = Agreement(targets);
                distance = (generated - real).abs().mean().item<float>() / 2; // in [0, 1] of the pixel range
            }
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"strength {strength:0.00}: agrees with the init's scene {keep:P1}, with the prompt's scene {follow:P1}, mean pixel change {distance:0.000} ({clock.Elapsed.TotalSeconds:0} s)"));
            figure.Add(generated.narrow(0, 0, Math.Min(6, count)).clone());
        }
        if (o.Get("figure") is { } path)
        {
            // One row per strength, the first six scenes.
            using var all = cat(figure, 0);
            using var grid = EvaluationImages.Grid(all, Math.Min(6, count));
            ImageFiles.SavePng(EvaluationImages.Enlarge(grid.unsqueeze(0), 2)[0], path);
            Console.WriteLine($"wrote {path}");
        }
        foreach (var f in figure) f.Dispose();
        return 0;
    }
}
