using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using EDiffI.Conditioning;
using EDiffI.Host.Imaging;
using EDiffI.Host.Pipeline;
using EDiffI.Host.Runtime;
using EDiffI.Plugins.World;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

/// <summary>
/// The cascade issue's measurements. <see cref="Restore"/>: a super-resolution stage given real low-resolution renders,
/// against the real renders of the same scenes at its size (PSNR, SSIM, sharpness), beside bicubic upsampling, over a
/// sweep of its steps, σ_aug and σ_max, for one or more models. <see cref="FromText"/>: the whole cascade from text,
/// judged on its output downsampled to the base's size, against the base alone and bicubic upsampling.
/// Every image goes through the generation service, as the CLI and the bridge make it.
/// </summary>
internal static class SuperResolutionEvaluation
{
    /// <summary>
    /// Evaluate sr --model models/default [--model other ...] [--stage sr256|sr1024] [--count 16] [--steps 8,16]
    /// [--sigma-aug 0,0.1,0.2] [--sigma-max 0.5,1] [--device cpu] [--figure f.png] [--out f.json]
    /// Lists are swept (every combination); a list left out takes the stage's model.json default.
    /// </summary>
    public static int Restore(Args o)
    {
        var models = o.All("model");
        if (models.Count == 0) models.Add(Path.Combine("models", "default"));
        var device = TorchRuntime.ParseDevice(o.Get("device") ?? "cpu");
        string stageName = o.Get("stage") ?? "sr256";
        int count = int.Parse(o.Get("count") ?? "16", CultureInfo.InvariantCulture);
        var steps = Sweep(o.Get("steps"), s => (int?)int.Parse(s, CultureInfo.InvariantCulture));
        var augs = Sweep(o.Get("sigma-aug"), s => (double?)double.Parse(s, CultureInfo.InvariantCulture));
        var tops = Sweep(o.Get("sigma-max"), s => (double?)double.Parse(s, CultureInfo.InvariantCulture));
        string judge = o.Get("judge") ?? Path.Combine("models", "judge", "judge.safetensors");
        using var environment = new EvaluationEnvironment(device, judge);

        var results = new List<object>();
        var figure = new List<Tensor>();
        List<(string Caption, byte[] Rgba, Tensor Low, Tensor Truth)>? scenes = null;
        int low = 0, high = 0;
        try
        {
            foreach (string model in models)
            {
                using var service = environment.OpenCascade(model, device, TorchRuntime.ComputeType(device, o.Get("precision") ?? "auto"));
                var found = service.Cascade.Stages.FirstOrDefault(s => string.Equals(s.Spec.Name, stageName, StringComparison.OrdinalIgnoreCase));
                if (found.Stage is null)
                {
                    Console.Error.WriteLine($"{model} has no stage '{stageName}' (it has: {string.Join(", ", service.Cascade.Stages.Select(s => s.Spec.Name))})");
                    return 2;
                }
                if (scenes is null)
                {
                    (low, high) = (found.Stage.InputResolution, found.Stage.OutputResolution);
                    scenes = Scenes(count, low, high);
                    var bicubic = new List<double[]>();
                    foreach (var s in scenes)
                    {
                        using var up = Bicubic(s.Low, high);
                        bicubic.Add(Measure(up, s.Truth));
                    }
                    Report("bicubic", null, bicubic, 0, results);
                }
                bool first = true;
                foreach (var st in steps)
                    foreach (var aug in augs)
                        foreach (var top in tops)
                        {
                            var clock = Stopwatch.StartNew();
                            var measured = new List<double[]>();
                            StageUsed? used = null;
                            for (int i = 0; i < scenes.Count; i++)
                            {
                                var (caption, rgba, _, truth) = scenes[i];
                                var request = new GenerationRequest(caption, 90_000 + i)
                                {
                                    Width = high, Height = high, Init = new ConditionerImage(rgba, low, low), Strength = 0,
                                    Stages = new Dictionary<string, StageSettings> { [found.Spec.Name] = new(st, null, aug, top) },
                                };
                                using var result = service.Generate(request);
                                used = result.Settings.Stages[^1];
                                using var image = result.Images[0].unsqueeze(0);
                                measured.Add(Measure(image, truth));
                                if (first && i < 3)
                                {
                                    // Each figure row: the input enlarged, bicubic, the first model's first setting, the real render.
                                    figure.Add(Crop(EvaluationImages.Enlarge(scenes[i].Low, high / low)));
                                    using (var up = Bicubic(scenes[i].Low, high))
                                        figure.Add(Crop(up));
                                    figure.Add(Crop(image));
                                    figure.Add(Crop(truth));
                                }
                            }
                            first = false;
                            Report(Path.GetFileName(Path.TrimEndingDirectorySeparator(model)), used, measured, clock.Elapsed.TotalSeconds / scenes.Count, results);
                        }
            }
            if (o.Get("figure") is { } path && figure.Count > 0)
            {
                using var stacked = stack(figure.Select(f => f.squeeze(0)).ToList());
                using var grid = EvaluationImages.Grid(stacked, 4);
                ImageFiles.SavePng(grid, path);
                Console.WriteLine($"wrote {path}");
            }
            if (o.Get("out") is { } outPath)
                File.WriteAllText(outPath, JsonSerializer.Serialize(new { stage = stageName, low, high, count, device = device.ToString(), results }, TextureEvaluation.Indented));
            return 0;
        }
        finally
        {
            foreach (var f in figure) f.Dispose();
            foreach (var s in scenes ?? []) { s.Low.Dispose(); s.Truth.Dispose(); }
        }
    }

    /// <summary>
    /// Evaluate cascade --model models/default [--size 256] [--count 64] [--batch 16] [--split train|heldout] [--device cpu]
    /// [--figure f.png] [--out f.json]: prompts of fresh scenes drawn at the base's size and through the cascade to --size with the same
    /// seeds; the judge reads the cascade's output downsampled (area) to the base's size, the base's own and bicubic
    /// upsampling of the base's downsampled the same way: attribute accuracy, and FD-judge against real renders of the
    /// same scenes (the base against those at its size; the two at --size against the real --size renders downsampled
    /// the same way, so all three references are real and each is compared like for like). The cascade's fine detail,
    /// which the judge cannot see, is measured as sharpness against the real renders at --size.
    /// </summary>
    public static int FromText(Args o)
    {
        string model = o.Get("model") ?? Path.Combine("models", "default");
        var device = TorchRuntime.ParseDevice(o.Get("device") ?? "cpu");
        int size = int.Parse(o.Get("size") ?? "256", CultureInfo.InvariantCulture);
        int count = int.Parse(o.Get("count") ?? "64", CultureInfo.InvariantCulture);
        int batch = int.Parse(o.Get("batch") ?? "16", CultureInfo.InvariantCulture);
        var split = (o.Get("split") ?? "train") == "heldout" ? WorldSplit.HeldOut : WorldSplit.Train;
        string judgePath = o.Get("judge") ?? Path.Combine("models", "judge", "judge.safetensors");
        using var environment = new EvaluationEnvironment(device, judgePath);
        using var service = environment.OpenCascade(model, device, TorchRuntime.ComputeType(device, o.Get("precision") ?? "auto"));
        int baseSize = service.Model.Resolution;
        var scenes = Enumerable.Range(0, count).Select(i => SceneRenderer.Render(1_000_000 + i, split, baseSize)).ToList();
        var prompts = scenes.Select(s => s.Short.Text).ToList();
        using var real = SceneRenderer.ToImages(scenes.Select(s => s.Rgb));
        int factor = size / baseSize;
        // Only the images at the base's size are kept (the --size ones are downsampled as they are made), and the
        // finest detail at --size is summed as it goes, so 64 scenes at 1024 hold megabytes rather than gigabytes.
        var realDowns = new List<Tensor>();
        double realDetail = 0;
        for (int i = 0; i < count; i++)
        {
            using var render = SceneRenderer.ToImages([SceneRenderer.Render(1_000_000 + i, split, size).Rgb]);
            realDetail += ImageQuality.Detail(render) / count;
            realDowns.Add(F.avg_pool2d(render, factor));
        }
        var clock = Stopwatch.StartNew();
        var bases = new List<Tensor>();
        var larges = new List<Tensor>();
        var bicubics = new List<Tensor>();
        double largeDetail = 0, bicubicDetail = 0;
        var figureCells = new List<Tensor>(); // the first four prompts: the base enlarged, bicubic, the cascade (above 256, their middle 256²)
        for (int start = 0; start < count; start += batch)
        {
            var chunk = prompts.Skip(start).Take(batch).ToList();
            var request = new GenerationRequest(chunk[0], 7_000_000 + start, Batch: chunk.Count) { Prompts = chunk };
            using var b = service.Generate(request with { Width = baseSize, Height = baseSize });
            using var l = service.Generate(request with { Width = size, Height = size });
            using var up = Bicubic(b.Images, size);
            bases.Add(b.Images.clone());
            larges.Add(F.avg_pool2d(l.Images, factor));
            bicubics.Add(F.avg_pool2d(up, factor));
            largeDetail += ImageQuality.Detail(l.Images) * chunk.Count / count;
            bicubicDetail += ImageQuality.Detail(up) * chunk.Count / count;
            for (int i = 0; i < chunk.Count && start + i < 4; i++)
            {
                figureCells.Add(Crop(EvaluationImages.Enlarge(b.Images[i..(i + 1)], factor)));
                figureCells.Add(Crop(up[i..(i + 1)]));
                figureCells.Add(Crop(l.Images[i..(i + 1)]));
            }
        }
        double seconds = clock.Elapsed.TotalSeconds;
        using var baseImages = cat(bases, 0);
        using var largeDown = cat(larges, 0);
        using var bicubicDown = cat(bicubics, 0);
        using var realDown = cat(realDowns, 0);
        foreach (var t in bases.Concat(larges).Concat(bicubics).Concat(realDowns)) t.Dispose();
        using var realFeatures = environment.JudgeFeatures(real, batch);
        using var realDownFeatures = environment.JudgeFeatures(realDown, batch);
        var results = new List<object>();
        foreach (var (name, judged, detail) in new[] { ("base", baseImages, (double?)null), ($"bicubic to {size}", bicubicDown, bicubicDetail), ($"cascade to {size}", largeDown, largeDetail) })
        {
            using var onDevice = judged.to(device);
            var scores = WorldMetrics.AttributeAgreement(environment.Judge, onDevice, scenes.Select(s => s.Scene).ToList());
            using var fake = environment.JudgeFeatures(judged, batch);
            var reference = detail is null ? realFeatures : realDownFeatures;
            double fd = EDiffI.Evaluation.FrechetDistance.Between(fake.to(ScalarType.Float64), reference.to(ScalarType.Float64));
            double accuracy = scores.Values.Sum(v => v.Agree) / (double)Math.Max(1, scores.Values.Sum(v => v.Scored));
            // Not pixel-paired (text, not the render, drew them): the outputs' finest detail over that of the real renders of the same scenes at this size.
            double? sharp = detail / realDetail;
            Console.WriteLine($"{name,-18}: attribute accuracy {accuracy:P1}, FD-judge {fd:0.000}" + (sharp is { } s ? $", sharpness at {size} against real renders {s:0.00}" : ""));
            results.Add(new { images = name, attributeAccuracy = accuracy, fdJudge = fd, sharpness = sharp });
        }
        Console.WriteLine($"{count} prompts, base and cascade to {size} in {seconds:0} s on {device}");
        if (o.Get("figure") is { } figurePath)
        {
            using var stacked = stack(figureCells.Select(c => c.squeeze(0)).ToList());
            using var grid = EvaluationImages.Grid(stacked, 3);
            ImageFiles.SavePng(grid, figurePath);
            Console.WriteLine($"wrote {figurePath}");
        }
        foreach (var c in figureCells) c.Dispose();
        if (o.Get("out") is { } outPath)
            File.WriteAllText(outPath, JsonSerializer.Serialize(new { model, size, count, split = split.ToString(), device = device.ToString(), seconds, results }, TextureEvaluation.Indented));
        return 0;
    }

    // Held-out scenes rendered at the stage's input and output sizes, the input also as RGBA8 as a user's file would be.
    private static List<(string Caption, byte[] Rgba, Tensor Low, Tensor Truth)> Scenes(int count, int low, int high)
    {
        var list = new List<(string, byte[], Tensor, Tensor)>();
        for (int i = 0; i < count; i++)
        {
            var small = SceneRenderer.Render(5_000_000 + i, WorldSplit.HeldOut, low);
            var large = SceneRenderer.Render(5_000_000 + i, WorldSplit.HeldOut, high);
            var lowImage = SceneRenderer.ToImages([small.Rgb]);
            byte[] rgba = ImageFiles.ToRgba8(lowImage[0], out _, out _);
            list.Add((small.Short.Text, rgba, lowImage, SceneRenderer.ToImages([large.Rgb])));
        }
        return list;
    }

    // PSNR, SSIM and sharpness of one image against its truth.
    // The baseline every table and figure row compares with: bicubic upsampling to side × side, clamped to [−1, 1].
    private static Tensor Bicubic(Tensor low, int side) =>
        F.interpolate(low, [side, side], mode: InterpolationMode.Bicubic, align_corners: false).clamp(-1, 1);

    private static double[] Measure(Tensor image, Tensor truth) =>
        [ImageQuality.Psnr(image, truth), ImageQuality.Ssim(image, truth), ImageQuality.Sharpness(image, truth)];

    private static void Report(string name, StageUsed? used, List<double[]> measured, double secondsEach, List<object> results)
    {
        double psnr = measured.Average(m => m[0]), ssim = measured.Average(m => m[1]), sharp = measured.Average(m => m[2]);
        string settings = used is null ? "" : string.Format(CultureInfo.InvariantCulture, " {0} steps, σ_aug {1}, σ_max {2}", used.Steps, used.AugmentationSigma, used.SigmaMax?.ToString(CultureInfo.InvariantCulture) ?? "80");
        Console.WriteLine($"{name}{settings}: PSNR {psnr:0.00} dB, SSIM {ssim:0.000}, sharpness {sharp:0.00} over {measured.Count} scenes" + (used is null ? "" : $" ({secondsEach:0.00} s each)"));
        results.Add(new { model = name, steps = used?.Steps, sigmaAug = used?.AugmentationSigma, sigmaMax = used?.SigmaMax, psnr, ssim, sharpness = sharp, secondsEach });
    }

    // The middle 256² of a larger image, for figures.
    private static Tensor Crop(Tensor image)
    {
        long side = image.shape[^1];
        if (side <= 256) return image.clone();
        long o = (side - 256) / 2;
        return image[.., .., (int)o..(int)(o + 256), (int)o..(int)(o + 256)].contiguous();
    }

    private static List<T?> Sweep<T>(string? text, Func<string, T?> parse) =>
        text is null ? [default] : text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Select(parse).ToList();
}
