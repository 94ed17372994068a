using ScottPlot;

namespace EDiffI.Host.Evaluation;

/// <summary>The report's plot, drawn with ScottPlot: per attribute, the accuracy on generated images beside the real images' and chance.</summary>
internal static class EvaluationPlot
{
    public const int Width = 960, Height = 540;

    private static readonly Lazy<bool> FontReady = new(UseSystemFont);

    /// <summary>Registers a system font for the labels once (see <see cref="UseSystemFont"/>); every plot calls it first.</summary>
    internal static void EnsureFont() => _ = FontReady.Value;

    public static void Write(string path, EvaluationSubject subject, EvaluationResult result, EvaluationReferences references)
    {
        EnsureFont();
        var (real, chance) = (references.Real, references.Chance);
        var attributes = result.Scores.Attributes;
        int stride = chance is null ? 3 : 4;
        var generatedColor = Color.FromHex("#1f77b4");
        var realColor = Color.FromHex("#bbbbbb");
        var chanceColor = Color.FromHex("#e8a87c");
        using var plot = new Plot();
        var bars = new List<Bar>();
        var ticks = new List<Tick>();
        for (int i = 0; i < attributes.Count; i++)
        {
            double left = i * stride;
            bars.Add(new Bar { Position = left, Value = 100 * (result.Scores.Accuracy(attributes[i]) ?? 0), FillColor = generatedColor });
            bars.Add(new Bar { Position = left + 1, Value = 100 * (real.Accuracy(attributes[i]) ?? 0), FillColor = realColor });
            if (chance is not null) bars.Add(new Bar { Position = left + 2, Value = 100 * (chance.Accuracy(attributes[i]) ?? 0), FillColor = chanceColor });
            ticks.Add(new Tick(left + (stride - 2) / 2.0, attributes[i]));
        }
        plot.Add.Bars(bars);
        var mean = plot.Add.HorizontalLine(100 * result.Scores.Mean);
        mean.LineColor = generatedColor;
        mean.LinePattern = LinePattern.Dashed;
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual([.. ticks]);
        plot.Axes.Bottom.MajorTickStyle.Length = 0;
        plot.Axes.SetLimits(-1, attributes.Count * stride - 1, 0, 125); // room above the bars for the legend
        plot.YLabel("accuracy (%)");
        var s = result.Settings;
        plot.Title(FormattableString.Invariant($"{Path.GetFileName(Path.TrimEndingDirectorySeparator(subject.Model))}: {result.Count} prompts, {s.Steps} {s.Sampler} steps, guidance {s.Guidance}"));
        plot.Legend.ManualItems.Add(new LegendItem { LabelText = FormattableString.Invariant($"generated (mean {100 * result.Scores.Mean:0.0}%)"), FillColor = generatedColor });
        plot.Legend.ManualItems.Add(new LegendItem { LabelText = "real images", FillColor = realColor });
        if (chance is not null) plot.Legend.ManualItems.Add(new LegendItem { LabelText = "chance (another scene's image)", FillColor = chanceColor });
        plot.Legend.Alignment = Alignment.UpperRight;
        plot.Legend.Orientation = Orientation.Horizontal;
        plot.ShowLegend();
        plot.SavePng(path, Width, Height);
    }

    // Skia's Linux build without dependencies finds no font by itself, so the labels would be blank: on Linux, a system
    // sans-serif font file is registered as ScottPlot's default. Elsewhere Skia's own default is used.
    private static bool UseSystemFont()
    {
        if (!OperatingSystem.IsLinux()) return true;
        string[] folders = ["/usr/share/fonts", "/usr/local/share/fonts", Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".fonts")];
        string[] preferred = ["DejaVuSans.ttf", "LiberationSans-Regular.ttf", "NotoSans-Regular.ttf", "FreeSans.ttf"];
        var files = folders.Where(Directory.Exists).SelectMany(f => SafeFiles(f)).ToList();
        string? file = preferred.Select(name => files.FirstOrDefault(f => Path.GetFileName(f) == name)).FirstOrDefault(f => f is not null)
            ?? files.FirstOrDefault();
        if (file is null) return false;
        // Titles are bold: the bold face where it lies beside the regular one, else the regular face for both.
        string name = Path.GetFileNameWithoutExtension(file);
        string bold = Path.Combine(Path.GetDirectoryName(file)!, name.Replace("-Regular", "", StringComparison.Ordinal) + "-Bold.ttf");
        Fonts.AddFontFile(name, file, bold: false, italic: false);
        Fonts.AddFontFile(name, File.Exists(bold) ? bold : file, bold: true, italic: false);
        Fonts.Default = name;
        return true;
    }

    private static IEnumerable<string> SafeFiles(string folder)
    {
        try
        {
            return Directory.GetFiles(folder, "*.ttf", SearchOption.AllDirectories);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return [];
        }
    }
}
