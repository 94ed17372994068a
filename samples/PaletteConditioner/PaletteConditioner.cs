using System.Globalization;
using EDiffI.Conditioning;
using static TorchSharp.torch;

namespace PaletteConditioner;

/// <summary>
/// Conditions on up to five colours (<c>--cond palette=#aa3322,#ffffff</c>): each colour becomes one
/// cross-attention token and their mean the pooled vector, both fed to the U-Net's "palette" slot, whose
/// weights (the adapter) are trained on a frozen base. A token is the colour in [−1, 1] with Fourier
/// features of it (so the slot's linear projection can tell nearby colours apart) and its share of the image.
/// </summary>
public sealed class PaletteConditioner : ITrainableConditioner
{
    /// <summary>Most colours in one palette.</summary>
    public const int MaxColours = 5;

    /// <summary>Frequencies of the Fourier features, in multiples of π over [−1, 1].</summary>
    private static readonly double[] Frequencies = [1, 2, 4];

    /// <summary>Width of one colour token: RGB, sin and cos per channel and frequency, share.</summary>
    public static int Width => 3 + 3 * 2 * Frequencies.Length + 1;

    /// <inheritdoc />
    public string Name => "palette";

    /// <inheritdoc />
    public string InputHelp => $"up to {MaxColours} colours #rrggbb, comma-separated, most important first";

    /// <inheritdoc />
    public ConditionerSlot Slot => new(TokenWidth: Width, PooledWidth: Width);

    /// <inheritdoc />
    public void Check(ConditionerInput input, string prompt, ConditionerModel model) => Parse(input);

    /// <inheritdoc />
    public ConditionerOutput Condition(ConditionerInput input, ConditionerContext context)
    {
        var colours = Parse(input);
        using var scope = NewDisposeScope();
        var tokens = Tokens(colours).unsqueeze(0);
        var mask = ones([1, colours.Count], dtype: ScalarType.Bool);
        var pooled = tokens.mean([1]);
        var stream = new ConditioningStream(tokens.to(context.Device).MoveToOuterDisposeScope(), mask.to(context.Device).MoveToOuterDisposeScope(),
            pooled.to(context.Device).MoveToOuterDisposeScope());
        return new ConditionerOutput(Stream: stream, Used: new Dictionary<string, double> { ["colours"] = colours.Count });
    }

    /// <summary>
    /// The palette of a training image: the colours of its most populated cells of a 6×6×6 RGB grid (at least
    /// 4% of the pixels each, at most five, most populated first), each the mean of its pixels.
    /// </summary>
    public ConditionerInput InputFor(Tensor image, string caption)
    {
        using var scope = NewDisposeScope();
        var rgb = ((image.to(ScalarType.Float32).clamp(-1, 1) + 1) * 127.5).reshape(3, -1).t(); // [N, 3] in 0..255
        var cells = (rgb / 256.0 * 6).floor().clamp(0, 5).to(ScalarType.Int64);
        var index = cells[.., 0] * 36 + cells[.., 1] * 6 + cells[.., 2];
        var counts = bincount(index, minlength: 216).to(ScalarType.Float32);
        var sums = zeros(216, 3).index_add(0, index, rgb, 1.0);
        float[] count = counts.data<float>().ToArray();
        float[] sum = sums.reshape(-1).data<float>().ToArray();
        long pixels = rgb.shape[0];
        var chosen = Enumerable.Range(0, 216).Where(c => count[c] >= 0.04 * pixels).OrderByDescending(c => count[c]).ThenBy(c => c).Take(MaxColours);
        var text = string.Join(",", chosen.Select(c => Hex(sum[3 * c] / count[c], sum[3 * c + 1] / count[c], sum[3 * c + 2] / count[c])));
        if (text.Length == 0) // no cell holds 4%: the most populated one
        {
            int top = Enumerable.Range(0, 216).OrderByDescending(c => count[c]).ThenBy(c => c).First();
            text = Hex(sum[3 * top] / count[top], sum[3 * top + 1] / count[top], sum[3 * top + 2] / count[top]);
        }
        return new ConditionerInput(Text: text);
    }

    private static string Hex(double r, double g, double b) =>
        $"#{(int)Math.Round(r):x2}{(int)Math.Round(g):x2}{(int)Math.Round(b):x2}";

    /// <summary>The colours of an input, in order; throws an <see cref="ArgumentException"/> saying what is wrong.</summary>
    public static IReadOnlyList<(double R, double G, double B)> Parse(ConditionerInput input)
    {
        string? text = input.Text ?? (input.Bytes is { } bytes ? System.Text.Encoding.UTF8.GetString(bytes) : null);
        const string Example = "Give colours as #rrggbb separated by commas, for example palette=#aa3322,#ffffff.";
        if (string.IsNullOrWhiteSpace(text)) throw new ArgumentException($"The palette is empty. {Example}");
        var parts = text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length > MaxColours) throw new ArgumentException($"The palette has {parts.Length} colours; at most {MaxColours} are taken.");
        var colours = new List<(double, double, double)>();
        foreach (string part in parts)
        {
            string hex = part.TrimStart('#');
            if (hex.Length != 6 || !int.TryParse(hex, NumberStyles.HexNumber, CultureInfo.InvariantCulture, out int value))
                throw new ArgumentException($"'{part}' is not a colour. {Example}");
            colours.Add(((value >> 16) / 255.0, ((value >> 8) & 0xFF) / 255.0, (value & 0xFF) / 255.0));
        }
        if (colours.Count == 0) throw new ArgumentException($"The palette is empty. {Example}");
        return colours;
    }

    // One token per colour: [n, Width].
    private static Tensor Tokens(IReadOnlyList<(double R, double G, double B)> colours)
    {
        var rows = new float[colours.Count * Width];
        for (int i = 0; i < colours.Count; i++)
        {
            var (r, g, b) = colours[i];
            double[] c = [2 * r - 1, 2 * g - 1, 2 * b - 1];
            int k = i * Width;
            foreach (double v in c) rows[k++] = (float)v;
            foreach (double f in Frequencies)
                foreach (double v in c)
                {
                    rows[k++] = (float)Math.Sin(Math.PI * f * v);
                    rows[k++] = (float)Math.Cos(Math.PI * f * v);
                }
            rows[k] = 1f / colours.Count;
        }
        return tensor(rows, [colours.Count, Width]);
    }
}
