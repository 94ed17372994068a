using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using EDiffI.Conditioning;
using EDiffI.Host.Pipeline;
using EDiffI.Host.Runtime;
using EDiffI.Plugins.World;
using static TorchSharp.torch;



/// <summary>
/// The palette sample's adapter: palette distance between generated images and the scene whose colours were
/// requested (the world's 12-colour histogram distance, 0 to 1), with and without the conditioner, for captions
/// that name the colours and for the family alone ("bricks"), which leaves the palette open.
/// </summary>
internal static class PaletteEvaluation
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>Evaluate palette --model &lt;adapter folder&gt; [--count 96] [--seeds 2] [--steps 24] [--guidance 2] [--device cuda] [--out f.json]</summary>
    public static int Run(Args o)
    {
        string model = o.Get("model") ?? throw new ArgumentException("pass --model <the palette adapter folder>");
        var device = TorchRuntime.ParseDevice(o.Get("device") ?? "cpu");
        int count = int.Parse(o.Get("count") ?? "96", CultureInfo.InvariantCulture);
        int seeds = int.Parse(o.Get("seeds") ?? "2", CultureInfo.InvariantCulture);
        int steps = int.Parse(o.Get("steps") ?? "24", CultureInfo.InvariantCulture);
        double guidance = double.Parse(o.Get("guidance") ?? "2", CultureInfo.InvariantCulture);
        string judge = o.Get("judge") ?? Path.Combine("models", "judge", "judge.safetensors");
        using var environment = new EvaluationEnvironment(device, judge);
        var palette = new PaletteConditioner.PaletteConditioner();
        using var service = environment.Open(model, device, TorchRuntime.ComputeType(device, o.Get("precision") ?? "auto"), [palette]);
        int size = service.Model.Resolution;
        // Fresh scenes of the training split (seeds the training stream never draws).
        var scenes = Enumerable.Range(0, count).Select(i => SceneRenderer.Render(9_000_000 + i, WorldSplit.Train, size)).ToList();
        using var real = SceneRenderer.ToImages(scenes.Select(s => s.Rgb));
        var inputs = Enumerable.Range(0, count).Select(i => { using var image = real[i]; return palette.InputFor(image, scenes[i].Short.Text); }).ToList();
        using var realRepeated = real.repeat_interleave(seeds, 0).to(device);
        using var shifted = real.roll(1, 0).repeat_interleave(seeds, 0).to(device);
        double chance = ControlMetrics.PaletteDistance(shifted, realRepeated).mean().item<float>();
        var results = new List<object>();
        foreach (string prompts in new[] { "caption", "family" })
            foreach (bool withPalette in new[] { false, true })
            {
                var clock = Stopwatch.StartNew();
                var parts = new List<Tensor>();
                for (int i = 0; i < count; i++)
                {
                    string prompt = prompts == "caption" ? scenes[i].Short.Text : Captions.FamilyName(scenes[i].Scene.Background.Family);
                    var request = new GenerationRequest(prompt, 20_000_000 + (long)i * seeds, steps, guidance, seeds);
                    if (withPalette) request = request.WithCondition("palette", inputs[i]);
                    using var result = service.Generate(request);
                    parts.Add(result.Images.clone());
                }
                using var generated = cat(parts, 0).to(device);
                foreach (var p in parts) p.Dispose();
                double distance = ControlMetrics.PaletteDistance(generated, realRepeated).mean().item<float>();
                Console.WriteLine($"{prompts,-8} palette {(withPalette ? "on " : "off")}: palette distance to the requested scene {distance:0.000} ({clock.Elapsed.TotalSeconds:0} s)");
                results.Add(new { prompts, palette = withPalette, distance, images = count * seeds });
            }
        Console.WriteLine($"chance (another scene's palette): {chance:0.000}");
        if (o.Get("out") is { } path)
            File.WriteAllText(path, JsonSerializer.Serialize(new { model, device = device.ToString(), count, seeds, steps, guidance, chance, results },
                Indented));
        return 0;
    }
}
