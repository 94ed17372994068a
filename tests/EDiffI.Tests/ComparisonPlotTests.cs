using EDiffI.Host.Evaluation;

namespace EDiffI.Tests;

public class ComparisonPlotTests
{
    [Fact]
    public void ItWritesAPngOfTheSeriesAndRefusesNothingToPlot()
    {
        string folder = Directory.CreateTempSubdirectory("ediffi-plot-").FullName;
        try
        {
            string path = Path.Combine(folder, "sub", "fig.png");
            ComparisonPlot.Write(path, "t", "x", "y",
            [
                new PlotSeries("a", [new PlotPoint(40, 200, ComparisonPlot.GuidanceLabel(1)), new PlotPoint(42, 170, ComparisonPlot.GuidanceLabel(2.5))]),
                new PlotSeries("b", [new PlotPoint(39, 240)]),
            ]);
            byte[] bytes = File.ReadAllBytes(path);
            Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, bytes[..4]);
            // The IHDR chunk: the eval report's size.
            Assert.Equal(EvaluationPlot.Width, System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(16, 4)));
            Assert.Equal(EvaluationPlot.Height, System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(20, 4)));
            Assert.Equal("w=2.5", ComparisonPlot.GuidanceLabel(2.5));
            var e = Assert.Throws<ArgumentException>(() => ComparisonPlot.Write(path, "t", "x", "y", [new PlotSeries("empty", [])]));
            Assert.Contains("nothing to plot", e.Message);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
