using System.Globalization;
using ScottPlot;

namespace EDiffI.Host.Evaluation;

/// <summary>One point of a comparison: a reading of a model at one setting (a guidance weight, a training length).</summary>
/// <param name="X">Position on the horizontal axis.</param>
/// <param name="Y">Position on the vertical axis.</param>
/// <param name="Label">Written beside the point (for example "w=2"); null for none.</param>
public sealed record PlotPoint(double X, double Y, string? Label = null);

/// <summary>A line of points of one model, in the order they are joined.</summary>
public sealed record PlotSeries(string Name, IReadOnlyList<PlotPoint> Points);

/// <summary>
/// Line plots comparing models, drawn with ScottPlot like the eval report's: the paper's Figure 7 and 8 form (FD-judge
/// against attribute accuracy over a sweep of guidance weights) and accuracy against training samples.
/// </summary>
public static class ComparisonPlot
{
    private static readonly string[] Palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"];

    /// <summary>Writes the series to a PNG of <see cref="EvaluationPlot.Width"/> × <see cref="EvaluationPlot.Height"/>.</summary>
    public static void Write(string path, string title, string xLabel, string yLabel, IReadOnlyList<PlotSeries> series)
    {
        if (series.Count == 0 || series.All(s => s.Points.Count == 0)) throw new ArgumentException("nothing to plot: no series has a point");
        EvaluationPlot.EnsureFont();
        using var plot = new Plot();
        for (int i = 0; i < series.Count; i++)
        {
            var s = series[i];
            var color = Color.FromHex(Palette[i % Palette.Length]);
            var line = plot.Add.Scatter(s.Points.Select(p => p.X).ToArray(), s.Points.Select(p => p.Y).ToArray());
            line.Color = color;
            line.LineWidth = 2;
            line.MarkerSize = 8;
            line.LegendText = s.Name;
            foreach (var p in s.Points.Where(p => p.Label is not null))
            {
                var text = plot.Add.Text(p.Label!, p.X, p.Y);
                text.LabelFontColor = color;
                text.LabelFontSize = 12;
                text.OffsetX = 6;
                text.OffsetY = -6;
            }
        }
        plot.Title(title);
        plot.XLabel(xLabel);
        plot.YLabel(yLabel);
        plot.Legend.Alignment = Alignment.UpperRight;
        plot.ShowLegend();
        // Limits with room for the labels right of the outermost points and for the legend above them.
        var all = series.SelectMany(s => s.Points).ToList();
        double x0 = all.Min(p => p.X), x1 = all.Max(p => p.X), y0 = all.Min(p => p.Y), y1 = all.Max(p => p.Y);
        double dx = x1 > x0 ? x1 - x0 : Math.Max(1, Math.Abs(x0) * 0.1), dy = y1 > y0 ? y1 - y0 : Math.Max(1, Math.Abs(y0) * 0.1);
        plot.Axes.SetLimits(x0 - 0.08 * dx, x1 + 0.22 * dx, y0 - 0.1 * dy, y1 + 0.3 * dy);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        plot.SavePng(path, EvaluationPlot.Width, EvaluationPlot.Height);
    }

    /// <summary>"w=2" for a guidance weight, with invariant digits.</summary>
    public static string GuidanceLabel(double guidance) => "w=" + guidance.ToString("0.##", CultureInfo.InvariantCulture);
}
