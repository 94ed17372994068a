using ScottPlot;

namespace EDiffI.Host.Evaluation;

/// <summary>The report's plot, drawn with ScottPlot: per attribute, the accuracy on generated images beside the real images'.</summary>
internal static class EvaluationPlot
{
    public const int Width = 960, Height = 540;

    public static void Write(string path, EvaluationSubject subject, EvaluationResult result, AttributeScores real)
    {
        var attributes = result.Scores.Attributes;
        var generatedColor = Color.FromHex("#1f77b4");
        var realColor = Color.FromHex("#bbbbbb");
        using var plot = new Plot();
        var bars = new List<Bar>();
        var ticks = new List<Tick>();
        for (int i = 0; i < attributes.Count; i++)
        {
            double left = i * 3;
            bars.Add(new Bar { Position = left, Value = 100 * (result.Scores.Accuracy(attributes[i]) ?? 0), FillColor = generatedColor });
            bars.Add(new Bar { Position = left + 1, Value = 100 * (real.Accuracy(attributes[i]) ?? 0), FillColor = realColor });
            ticks.Add(new Tick(left + 0.5, attributes[i]));
        }
        plot.Add.Bars(bars);
        var mean = plot.Add.HorizontalLine(100 * result.Scores.Mean);
        mean.LineColor = generatedColor;
        mean.LinePattern = LinePattern.Dashed;
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual([.. ticks]);
        plot.Axes.Bottom.MajorTickStyle.Length = 0;
        plot.Axes.Bottom.TickLabelStyle.Rotation = -30;
        plot.Axes.Bottom.TickLabelStyle.Alignment = Alignment.MiddleRight;
        plot.Axes.SetLimits(-1, attributes.Count * 3 - 1, 0, 105);
        plot.YLabel("accuracy (%)");
        var s = result.Settings;
        plot.Title(FormattableString.Invariant($"{Path.GetFileName(Path.TrimEndingDirectorySeparator(subject.Model))}: {result.Count} prompts, {s.Steps} {s.Sampler} steps, guidance {s.Guidance}"));
        plot.Legend.ManualItems.Add(new LegendItem { LabelText = FormattableString.Invariant($"generated (mean {100 * result.Scores.Mean:0.0}%)"), FillColor = generatedColor });
        plot.Legend.ManualItems.Add(new LegendItem { LabelText = "real images", FillColor = realColor });
        plot.Legend.Alignment = Alignment.UpperRight;
        plot.ShowLegend();
        plot.SavePng(path, Width, Height);
    }
}
