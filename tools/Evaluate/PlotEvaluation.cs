using System.Globalization;
using System.Text.Json;
using EDiffI.Host.Evaluation;

/// <summary>
/// Plots of evaluation results that are already on disk, so a figure is redrawn without running a model:
/// <code>
/// Evaluate plot --data a.json [--data b.json ...] --out fig.png [--title t] [--name model-path=Label ...]
/// </code>
/// one line per model (and caption kind, where the files hold several) of FD-judge against the mean attribute
/// accuracy, a point per guidance weight: the form of the paper's Figures 7 and 8.
/// <code>
/// Evaluate plot --curve file.csv --out fig.png [--title t]
/// </code>
/// attribute accuracy against training images, one line per series of the CSV (columns series, images, accuracy in %,
/// an optional point label).
/// </summary>
internal static class PlotEvaluation
{
    public static int Run(Args o)
    {
        string output = o.Get("out") ?? throw new ArgumentException("--out <file.png> is needed");
        if (o.Get("curve") is { } csv) return Curve(csv, output, o.Get("title") ?? "attribute accuracy against training images");
        var files = o.All("data");
        if (files.Count == 0) throw new ArgumentException("--data <results.json> (one or more) or --curve <file.csv> is needed");
        var names = o.All("name").Select(n => n.Split('=', 2)).Where(p => p.Length == 2).ToDictionary(p => p[0], p => p[1]);
        var readings = new List<(string Model, string Captions, double Guidance, double Accuracy, double Fd)>();
        foreach (string file in files)
        {
            if (!File.Exists(file)) throw new FileNotFoundException($"no results file '{file}'", file);
            using var document = JsonDocument.Parse(File.ReadAllText(file));
            foreach (var result in document.RootElement.GetProperty("results").EnumerateArray())
                readings.Add((result.GetProperty("model").GetString()!, result.TryGetProperty("captions", out var c) ? c.GetString() ?? "" : "",
                    result.GetProperty("guidance").GetDouble(), 100 * MeanOverAttributes(result), result.GetProperty("fdJudge").GetDouble()));
        }
        bool severalCaptions = readings.Select(r => r.Captions).Distinct().Count() > 1;
        var series = readings.GroupBy(r => (r.Model, r.Captions)).Select(g =>
        {
            string name = names.TryGetValue(g.Key.Model, out var label) ? label : Path.GetFileName(Path.TrimEndingDirectorySeparator(g.Key.Model));
            if (severalCaptions) name += $", {g.Key.Captions} captions";
            var points = g.OrderBy(r => r.Guidance).Select(r => new PlotPoint(r.Accuracy, r.Fd, ComparisonPlot.GuidanceLabel(r.Guidance))).ToList();
            return new PlotSeries(name, points);
        }).ToList();
        ComparisonPlot.Write(output, o.Get("title") ?? "FD-judge against attribute accuracy", "attribute accuracy, mean over attributes (%)", "FD-judge (lower is better)", series);
        foreach (var s in series)
            Console.WriteLine($"{s.Name}: " + string.Join("; ", s.Points.Select(p => FormattableString.Invariant($"{p.Label} {p.X:0.0}% FD {p.Y:0.0}"))));
        Console.WriteLine($"wrote {output}");
        return 0;
    }

    // The mean over the attributes the judge scored (a null or missing share is an attribute no prompt had), so results
    // written before `attributeAccuracy` meant this mean read the same way as those after.
    private static double MeanOverAttributes(JsonElement result)
    {
        var shares = result.GetProperty("attributes").EnumerateObject()
            .Where(a => a.Value.ValueKind == JsonValueKind.Number && double.IsFinite(a.Value.GetDouble())).Select(a => a.Value.GetDouble()).ToList();
        return shares.Count > 0 ? shares.Average() : result.GetProperty("attributeAccuracy").GetDouble();
    }

    private static int Curve(string csv, string output, string title)
    {
        if (!File.Exists(csv)) throw new FileNotFoundException($"no curve file '{csv}'", csv);
        var rows = File.ReadAllLines(csv).Skip(1).Where(l => !string.IsNullOrWhiteSpace(l) && !l.StartsWith('#')).Select((line, i) =>
        {
            var f = line.Split(',');
            if (f.Length < 3) throw new FormatException($"{csv}, data row {i + 1}: expected series,images,accuracy[,label], got '{line}'");
            return (Series: f[0].Trim(), Images: double.Parse(f[1], CultureInfo.InvariantCulture), Accuracy: double.Parse(f[2], CultureInfo.InvariantCulture),
                Label: f.Length > 3 && f[3].Trim().Length > 0 ? f[3].Trim() : null);
        }).ToList();
        var series = rows.GroupBy(r => r.Series).Select(g => new PlotSeries(g.Key, g.OrderBy(r => r.Images).Select(r => new PlotPoint(r.Images / 1000, r.Accuracy, r.Label)).ToList())).ToList();
        ComparisonPlot.Write(output, title, "training images seen per expert (thousands)", "attribute accuracy, mean over attributes (%)", series);
        Console.WriteLine($"wrote {output}");
        return 0;
    }
}
