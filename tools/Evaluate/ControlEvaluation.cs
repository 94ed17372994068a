using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using EDiffI.Attention;
using EDiffI.Conditioning;
using EDiffI.Host.Imaging;
using EDiffI.Host.Pipeline;
using EDiffI.Host.Pipeline.Conditioners;
using EDiffI.Host.Runtime;
using EDiffI.Plugins.PaintWithWords;
using EDiffI.Plugins.World;
using static TorchSharp.torch;

/// <summary>
/// The measurements of eDiff-I's two controls beyond the prompt, on the world's scenes.
/// <list type="bullet">
/// <item><c>Evaluate paint</c>: each scene's caption is the prompt, each object's mask the scribble of the
/// phrase naming it; region accuracy (pixel and judge-cell IoU, <see cref="ControlMetrics.RegionScores"/>)
/// over a sweep of w′, w′ = 0 being plain generation. Same noise for every w′, so differences are paired.</item>
/// <item><c>Evaluate style</c>: a content scene's caption (or the empty prompt) with another scene as the
/// style reference; palette and texture distance to the reference over a sweep of the style strength,
/// strength 0 being no reference.</item>
/// </list>
/// </summary>
internal static class ControlEvaluation
{
    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    // Scribble colours for a second phrase whose object has the same palette colour as an earlier one.
    private static readonly (byte R, byte G, byte B)[] SpareScribbleColours = [(255, 0, 255), (0, 255, 255), (255, 255, 0)];

    private sealed record Common(string Model, Device Device, int Count, int Seeds, int Steps, double Guidance, double[] Sweep,
        string? Out, string? Samples, int FigureRows, string Judge, string Precision);

    private static Common Read(Args o, string sweepName, string sweepDefault, int countDefault) => new(
        o.Get("model") ?? Path.Combine("models", "default"),
        TorchRuntime.ParseDevice(o.Get("device") ?? "cpu"),
        Int(o.Get("count"), countDefault),
        Int(o.Get("seeds"), 4),
        Int(o.Get("steps"), 24),
        double.Parse(o.Get("guidance") ?? "2", CultureInfo.InvariantCulture),
        (o.Get(sweepName) ?? sweepDefault).Split(',').Select(w => double.Parse(w, CultureInfo.InvariantCulture)).ToArray(),
        o.Get("out"), o.Get("samples"), Int(o.Get("figure-rows"), 6),
        o.Get("judge") ?? Path.Combine("models", "judge", "judge.safetensors"),
        o.Get("precision") ?? "auto");

    // --outside: PaintWithWords:Outside for this evaluation (0, the paper's, unless given).
    private static double Outside(Args o) => double.Parse(o.Get("outside") ?? "0", CultureInfo.InvariantCulture);

    private static int Int(string? text, int fallback) => text is null ? fallback : int.Parse(text, CultureInfo.InvariantCulture);

    /// <summary>Paint-with-words: region accuracy with and without painting, over w′.</summary>
    public static int Paint(Args options)
    {
        var c = Read(options, "weights", "0,0.25,0.5,1,2", 48);
        using var environment = new EvaluationEnvironment(c.Device, c.Judge);
        IPaintWithWords painter = (options.Get("weighting") ?? "max") switch
        {
            "max" => new PaintWithWords(PaintWeights.Max, Outside(options)),
            "std" => new PaintWithWords(PaintWeights.Std, Outside(options)),
            var other => throw new ArgumentException($"--weighting max|std, not '{other}'"),
        };
        // Painting goes through the generation service's paint conditioner, with this evaluation's painter, as the CLI's --paint does.
        using var service = environment.Open(c.Model, c.Device, TorchRuntime.ComputeType(c.Device, c.Precision), [new PaintConditioner([painter])]);
        var pipeline = service.Pipeline;

        // Fresh scenes of the training split with at least one object (seeds never drawn in training).
        var scenes = Enumerable.Range(0, int.MaxValue).Select(i => SceneRenderer.Render(1_000_000 + i, WorldSplit.Train, pipeline.Network.Resolution))
            .Where(s => s.Scene.Objects.Count > 0).Take(c.Count).ToList();
        var regions = scenes.Select(s => ControlMetrics.CaptionRegions(s, s.Short)).ToList();
        using var real = SceneRenderer.ToImages(scenes.Select(s => s.Rgb));
        var realScores = ControlMetrics.RegionScores(environment.Judge, real.to(c.Device), regions.Select(r => (IReadOnlyList<PaintedRegion>)r.Select(x => x.Region).ToList()).ToList());
        var realSummary = Summarise(realScores.Select(s => (IEnumerable<RegionScore>)s).ToList());
        Console.WriteLine($"real images: pixel IoU {realSummary.PixelIoU:0.000}, cell IoU {realSummary.CellIoU:0.000}, cell hit {realSummary.CellHit:0.000} ({regions.Sum(r => r.Count)} regions)");

        var perScene = new double[c.Sweep.Length][]; // mean pixel IoU of each scene, per weight, for paired differences
        var results = new List<object>();
        var figure = new List<Tensor>[Math.Min(c.FigureRows, scenes.Count)];
        for (int f = 0; f < figure.Length; f++) figure[f] = [Scribble(regions[f], pipeline.Network.Resolution)];
        for (int w = 0; w < c.Sweep.Length; w++)
        {
            var clock = Stopwatch.StartNew();
            var all = new List<IEnumerable<RegionScore>>();
            perScene[w] = new double[scenes.Count];
            var agreement = new Dictionary<string, (long Agree, long Scored)>();
            for (int i = 0; i < scenes.Count; i++)
            {
                string prompt = scenes[i].Short.Text;
                int size = pipeline.Network.Resolution;
                // The scribble at the model's size (no resampling) and its legend: each region's mask comes back exactly.
                var paint = new ConditionerInput(Text: JsonSerializer.Serialize(Legend(regions[i])),
                    Image: new ConditionerImage(ScribbleRgba(regions[i], size), size, size), Weight: c.Sweep[w]);
                var request = new GenerationRequest(prompt, 5_000_000 + (long)i * c.Seeds, c.Steps, c.Guidance, c.Seeds)
                    .WithCondition(PaintConditioner.ConditionerName, paint);
                using var result = service.Generate(request);
                var images = result.Images;
                using var onDevice = images.to(c.Device);
                var scores = ControlMetrics.RegionScores(environment.Judge, onDevice,
                    Enumerable.Repeat((IReadOnlyList<PaintedRegion>)regions[i].Select(r => r.Region).ToList(), c.Seeds).ToList());
                all.AddRange(scores);
                perScene[w][i] = scores.SelectMany(s => s).Average(s => s.PixelIoU);
                foreach (var (name, (agree, scored)) in WorldMetrics.AttributeAgreement(environment.Judge, onDevice, Enumerable.Repeat(scenes[i].Scene, c.Seeds).ToList()))
                {
                    var (a, s) = agreement.GetValueOrDefault(name);
                    agreement[name] = (a + agree, s + scored);
                }
                if (i < figure.Length) figure[i].Add(images[0].clone());
            }
            var summary = Summarise(all);
            var (difference, error) = Paired(perScene[w], perScene[0]);
            double background = Share(agreement.Where(kv => !kv.Key.StartsWith("object", StringComparison.Ordinal)));
            Console.WriteLine($"w'={c.Sweep[w]}: pixel IoU {summary.PixelIoU:0.000} (vs w'={c.Sweep[0]}: {difference:+0.000;-0.000} ± {error:0.000}), " +
                $"cell IoU {summary.CellIoU:0.000}, cell hit {summary.CellHit:0.000}, background accuracy {background:P1}, " +
                $"object colour {Share(agreement.Where(kv => kv.Key == "object colour")):P1} ({clock.Elapsed.TotalSeconds:0.0} s)");
            results.Add(new
            {
                weight = c.Sweep[w], pixelIoU = summary.PixelIoU, cellIoU = summary.CellIoU, cellHit = summary.CellHit,
                pixelIoUChange = difference, pixelIoUChangeStdErr = error, backgroundAccuracy = background,
                objectColourAccuracy = Share(agreement.Where(kv => kv.Key == "object colour")),
                objectShapeAccuracy = Share(agreement.Where(kv => kv.Key == "object shape")),
                seconds = clock.Elapsed.TotalSeconds,
            });
        }
        if (c.Samples is string dir)
        {
            Directory.CreateDirectory(dir);
            var legends = new List<object>();
            for (int f = 0; f < figure.Length; f++)
            {
                using var row = cat(figure[f].Select(t => t.unsqueeze(0)).ToArray(), 0);
                ImageFiles.SavePng(EvaluationImages.Grid(EvaluationImages.Enlarge(row, 2), (int)row.shape[0]), Path.Combine(dir, $"paint-{f}.png"));
                legends.Add(new { prompt = scenes[f].Short.Text, legend = Legend(regions[f]) });
                foreach (var t in figure[f]) t.Dispose();
            }
            File.WriteAllText(Path.Combine(dir, "paint-legends.json"), JsonSerializer.Serialize(legends, Json));
        }
        Write(c.Out, new
        {
            model = c.Model, device = c.Device.ToString(), scenes = scenes.Count, seedsPerScene = c.Seeds, steps = c.Steps, guidance = c.Guidance,
            weighting = options.Get("weighting") ?? "max", outside = Outside(options), regions = regions.Sum(r => r.Count),
            real = new { pixelIoU = realSummary.PixelIoU, cellIoU = realSummary.CellIoU, cellHit = realSummary.CellHit },
            results,
        });
        return 0;
    }

    /// <summary>Style: palette and texture distance to a reference image, over the style strength.</summary>
    public static int Style(Args options)
    {
        var c = Read(options, "strengths", "0,0.5,1,2", 48);
        var modes = (options.Get("prompts") ?? "caption,family,empty").Split(',');
        using var environment = new EvaluationEnvironment(c.Device, c.Judge);
        // The reference goes through the generation service's style conditioner, as the CLI's --style does.
        using var service = environment.Open(c.Model, c.Device, TorchRuntime.ComputeType(c.Device, c.Precision), [new StyleConditioner()]);
        int size = service.Pipeline.Network.Resolution;
        // Content scenes and, from other seeds, the references; image k of a batch is pair k / seeds.
        var content = Enumerable.Range(0, c.Count).Select(i => SceneRenderer.Render(1_000_000 + i, WorldSplit.Train, size)).ToList();
        var references = Enumerable.Range(0, c.Count).Select(i => SceneRenderer.Render(3_000_000 + i, WorldSplit.Train, size)).ToList();
        using var contentImages = SceneRenderer.ToImages(content.Select(s => s.Rgb));
        using var referenceImages = SceneRenderer.ToImages(references.Select(s => s.Rgb));
        var pairOf = Enumerable.Range(0, c.Count * c.Seeds).Select(k => (long)(k / c.Seeds)).ToArray();
        using var pairIndex = tensor(pairOf);
        using var contentRepeated = contentImages.index_select(0, pairIndex).to(c.Device);
        using var referenceRepeated = referenceImages.index_select(0, pairIndex).to(c.Device);

        // Chance levels: the reference against its unrelated content scene, and against another reference.
        using var shifted = referenceImages.roll(1, 0).to(c.Device);
        using var referencesOnDevice = referenceImages.to(c.Device);
        using var contentOnDevice = contentImages.to(c.Device);
        var chance = new
        {
            paletteReferenceVsContent = Mean(ControlMetrics.PaletteDistance(referencesOnDevice, contentOnDevice)),
            textureReferenceVsContent = Mean(ControlMetrics.TextureDistance(environment.Judge, referencesOnDevice, contentOnDevice)),
            paletteReferenceVsOtherReference = Mean(ControlMetrics.PaletteDistance(referencesOnDevice, shifted)),
            textureReferenceVsOtherReference = Mean(ControlMetrics.TextureDistance(environment.Judge, referencesOnDevice, shifted)),
        };
        Console.WriteLine($"chance: {JsonSerializer.Serialize(chance)}");

        var results = new List<object>();
        var figures = new Dictionary<string, List<Tensor>[]>();
        foreach (string mode in modes)
        {
            // caption: the content scene's caption, colours included (text and reference disagree on the palette);
            // family: only its texture family ("bricks"), which leaves the palette to the reference; empty: no text.
            Func<RenderedScene, string> prompt = mode switch
            {
                "caption" => s => s.Short.Text,
                "family" => s => Captions.FamilyName(s.Scene.Background.Family),
                "empty" => _ => "",
                _ => throw new ArgumentException($"--prompts takes caption, family and/or empty, not '{mode}'"),
            };
            var prompts = pairOf.Select(p => prompt(content[(int)p])).ToList();
            var rows = figures[mode] = new List<Tensor>[Math.Min(c.FigureRows, c.Count)];
            for (int f = 0; f < rows.Length; f++) rows[f] = [referenceImages[f].clone(), contentImages[f].clone()];
            foreach (double strength in c.Sweep)
            {
                var clock = Stopwatch.StartNew();
                // Image k has seed 8,000,000 + k whichever request draws it. A request takes one reference, so with a
                // reference each pair is one request; without one (strength 0) prompts go in batches. Empty prompts always
                // carry the reference (at strength 0 its embedding is zero, which draws as no reference).
                var parts = new List<Tensor>(); // each result's images, owned here
                if (strength > 0 || mode == "empty")
                {
                    for (int pair = 0; pair < c.Count; pair++)
                    {
                        int start = pair * c.Seeds;
                        var style = new ConditionerInput(Image: new ConditionerImage(Rgba(references[pair].Rgb), size, size), Weight: strength);
                        var request = new GenerationRequest(prompts[start], 8_000_000 + start, c.Steps, c.Guidance, c.Seeds) { Prompts = prompts.GetRange(start, c.Seeds) }
                            .WithCondition(StyleConditioner.ConditionerName, style);
                        parts.Add(service.Generate(request).Images);
                    }
                }
                else
                {
                    const int batch = 96;
                    for (int start = 0; start < prompts.Count; start += batch)
                    {
                        int n = Math.Min(batch, prompts.Count - start);
                        parts.Add(service.Generate(new GenerationRequest(prompts[start], 8_000_000 + start, c.Steps, c.Guidance, n) { Prompts = prompts.GetRange(start, n) }).Images);
                    }
                }
                using var generated = cat(parts, 0);
                foreach (var p in parts) p.Dispose();
                using var onDevice = generated.to(c.Device);
                double paletteToReference = Mean(ControlMetrics.PaletteDistance(onDevice, referenceRepeated));
                double textureToReference = Mean(ControlMetrics.TextureDistance(environment.Judge, onDevice, referenceRepeated));
                double paletteToContent = Mean(ControlMetrics.PaletteDistance(onDevice, contentRepeated));
                double textureToContent = Mean(ControlMetrics.TextureDistance(environment.Judge, onDevice, contentRepeated));
                var agreement = WorldMetrics.AttributeAgreement(environment.Judge, onDevice, pairOf.Select(p => content[(int)p].Scene).ToList());
                double promptAccuracy = Share(agreement);
                double familyAccuracy = Share(agreement.Where(kv => kv.Key == "family"));
                var referenceAgreement = WorldMetrics.AttributeAgreement(environment.Judge, onDevice, pairOf.Select(p => references[(int)p].Scene).ToList());
                double referenceAccuracy = Share(referenceAgreement.Where(kv => !kv.Key.StartsWith("object", StringComparison.Ordinal)));
                Console.WriteLine($"{mode} prompts, strength {strength}: palette to reference {paletteToReference:0.000}, texture to reference {textureToReference:0.0000}, " +
                    $"palette to content {paletteToContent:0.000}, texture to content {textureToContent:0.0000}, prompt attributes {promptAccuracy:P1}, content family {familyAccuracy:P1}, " +
                    $"reference background attributes {referenceAccuracy:P1} ({clock.Elapsed.TotalSeconds:0.0} s)");
                results.Add(new
                {
                    prompts = mode, strength, paletteToReference, textureToReference, paletteToContent, textureToContent,
                    promptAttributeAccuracy = promptAccuracy, contentFamilyAccuracy = familyAccuracy, referenceBackgroundAccuracy = referenceAccuracy, seconds = clock.Elapsed.TotalSeconds,
                });
                for (int f = 0; f < rows.Length; f++) rows[f].Add(generated[(long)f * c.Seeds].clone());
            }
        }
        if (c.Samples is string dir)
        {
            Directory.CreateDirectory(dir);
            foreach (var (mode, rows) in figures)
            {
                var images = rows.SelectMany(r => r).ToList();
                using var all = stack(images.ToArray(), 0);
                ImageFiles.SavePng(EvaluationImages.Grid(EvaluationImages.Enlarge(all, 2), rows[0].Count), Path.Combine(dir, $"style-{mode}.png"));
                foreach (var t in images) t.Dispose();
            }
            File.WriteAllText(Path.Combine(dir, "style-prompts.json"), JsonSerializer.Serialize(
                content.Take(c.FigureRows).Select(s => new { caption = s.Short.Text, family = Captions.FamilyName(s.Scene.Background.Family) }).ToList(), Json));
        }
        Write(c.Out, new
        {
            model = c.Model, device = c.Device.ToString(), pairs = c.Count, seedsPerPair = c.Seeds, steps = c.Steps, guidance = c.Guidance,
            chance, results,
        });
        return 0;
    }

    private static (double PixelIoU, double CellIoU, double CellHit) Summarise(IReadOnlyList<IEnumerable<RegionScore>> scores)
    {
        var flat = scores.SelectMany(s => s).ToList();
        return flat.Count == 0 ? (double.NaN, double.NaN, double.NaN)
            : (flat.Average(s => s.PixelIoU), flat.Average(s => s.CellIoU), flat.Average(s => s.CellHit));
    }

    // Mean and standard error of the per-scene difference a − b.
    private static (double Mean, double StdErr) Paired(double[] a, double[] b)
    {
        var d = a.Zip(b, (x, y) => x - y).ToArray();
        double mean = d.Average();
        double variance = d.Length < 2 ? 0 : d.Sum(x => (x - mean) * (x - mean)) / (d.Length - 1);
        return (mean, Math.Sqrt(variance / d.Length));
    }

    private static double Share(IEnumerable<KeyValuePair<string, (long Agree, long Scored)>> scores)
    {
        var list = scores.ToList();
        long scored = list.Sum(kv => kv.Value.Scored);
        return scored == 0 ? double.NaN : list.Sum(kv => kv.Value.Agree) / (double)scored;
    }

    private static double Mean(Tensor values)
    {
        using (values) return values.to(ScalarType.Float64).mean().item<double>();
    }

    // A drawn scene's H×W×3 bytes as RGBA8, what a conditioner input carries.
    private static byte[] Rgba(byte[] rgb)
    {
        var rgba = new byte[rgb.Length / 3 * 4];
        for (int p = 0; p < rgb.Length / 3; p++)
        {
            rgba[4 * p] = rgb[3 * p];
            rgba[4 * p + 1] = rgb[3 * p + 1];
            rgba[4 * p + 2] = rgb[3 * p + 2];
            rgba[4 * p + 3] = 255;
        }
        return rgba;
    }

    // Each phrase's scribble colour: its object's palette colour, or a spare one when an earlier phrase took it.
    private static List<(string Phrase, (byte R, byte G, byte B) Colour)> Colours(IReadOnlyList<(string Phrase, PaintedRegion Region)> regions)
    {
        var used = new HashSet<(byte, byte, byte)>();
        var result = new List<(string, (byte, byte, byte))>();
        int spare = 0;
        foreach (var (phrase, region) in regions)
        {
            var p = Palette.Colors[region.Color];
            var colour = (p.R, p.G, p.B);
            if (!used.Add(colour)) used.Add(colour = SpareScribbleColours[spare++ % SpareScribbleColours.Length]);
            result.Add((phrase, colour));
        }
        return result;
    }

    private static Dictionary<string, string> Legend(IReadOnlyList<(string Phrase, PaintedRegion Region)> regions) =>
        Colours(regions).ToDictionary(c => $"#{c.Colour.R:x2}{c.Colour.G:x2}{c.Colour.B:x2}", c => c.Phrase);

    // The scribble as RGBA8: each region in its legend colour on mid-grey (#606060, in no legend: left unpainted).
    // The world's object masks do not overlap, so every region's pixels keep its colour.
    private static byte[] ScribbleRgba(IReadOnlyList<(string Phrase, PaintedRegion Region)> regions, int size)
    {
        var rgba = new byte[4 * size * size];
        for (int p = 0; p < size * size; p++) (rgba[4 * p], rgba[4 * p + 1], rgba[4 * p + 2], rgba[4 * p + 3]) = ((byte)0x60, (byte)0x60, (byte)0x60, (byte)255);
        var colours = Colours(regions);
        for (int r = 0; r < regions.Count; r++)
        {
            var (red, green, blue) = colours[r].Colour;
            var mask = regions[r].Region.Mask;
            for (int p = 0; p < mask.Length; p++)
                if (mask[p]) (rgba[4 * p], rgba[4 * p + 1], rgba[4 * p + 2]) = (red, green, blue);
        }
        return rgba;
    }

    // The scribble as an image in [−1, 1], for the figure.
    private static Tensor Scribble(IReadOnlyList<(string Phrase, PaintedRegion Region)> regions, int size) =>
        ImageFiles.FromRgba8(ScribbleRgba(regions, size), size, size);

    private static void Write(string? path, object value)
    {
        if (path is null) return;
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        File.WriteAllText(path, JsonSerializer.Serialize(value, Json));
        Console.WriteLine($"wrote {path}");
    }
}
