using System.Globalization;
using System.Text.Json;
using EDiffI.Attention;
using EDiffI.Host.Runtime;
using EDiffI.IO;
using SkiaSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace EDiffI.Host.Imaging;

/// <summary>
/// Reads paint-with-words inputs: a colour-coded scribble and a legend JSON tying colours to phrases
/// (<c>{"#ff0000": "red bricks", "#0000ff": "blue water"}</c>).
/// </summary>
public static class Scribble
{
    /// <summary>How messages name a scribble file.</summary>
    internal const string What = "The scribble";

    /// <summary>Reads a legend: colour (#rrggbb) to phrase. Throws a <see cref="UserException"/> when unreadable.</summary>
    public static IReadOnlyDictionary<uint, string> ReadLegend(string path) => ReadLegend(path, out _);

    /// <summary>
    /// Reads a legend: colour (#rrggbb) to phrase, each either a string (<c>"#ff0000": "red bricks"</c>) or an
    /// object with its own w′ (<c>"#ff0000": {"phrase": "red bricks", "weight": 0.8}</c>), which lands in
    /// <paramref name="weights"/>. Throws a <see cref="UserException"/> naming what is wrong.
    /// </summary>
    public static IReadOnlyDictionary<uint, string> ReadLegend(string path, out IReadOnlyDictionary<uint, double> weights)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UserException($"The legend '{path}' cannot be read: {e.Message} {LegendExample}", e);
        }
        return ParseLegend(text, $"The legend '{path}'", out weights);
    }

    private const string LegendExample = "It should be JSON like {\"#ff0000\": \"red bricks\", \"#0000ff\": {\"phrase\": \"blue water\", \"weight\": 0.8}}.";

    /// <summary>
    /// Parses a legend's JSON (see <see cref="ReadLegend(string, out IReadOnlyDictionary{uint, double})"/>);
    /// <paramref name="source"/> starts every message ("The legend 'x.json'"). Throws a <see cref="UserException"/>.
    /// </summary>
    public static IReadOnlyDictionary<uint, string> ParseLegend(string json, string source, out IReadOnlyDictionary<uint, double> weights)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json);
        }
        catch (JsonException e)
        {
            throw new UserException($"{source} cannot be read as JSON: {e.Message} {LegendExample}", e);
        }
        using var _ = document;
        if (document.RootElement.ValueKind != JsonValueKind.Object) throw new UserException($"{source} is not a JSON object. {LegendExample}");
        var legend = new Dictionary<uint, string>();
        var own = new Dictionary<uint, double>();
        foreach (var property in document.RootElement.EnumerateObject())
        {
            string key = property.Name;
            var value = property.Value;
            string hex = key.Trim().TrimStart('#');
            if (hex.Length != 6 || !uint.TryParse(hex, NumberStyles.HexNumber, CultureInfo.InvariantCulture, out uint rgb))
                throw new UserException($"{source} has the colour '{key}'; colours are written #rrggbb.");
            string? phrase = null;
            if (value.ValueKind == JsonValueKind.String) phrase = value.GetString();
            else if (value.ValueKind == JsonValueKind.Object)
            {
                if (value.TryGetProperty("phrase", out var p) && p.ValueKind == JsonValueKind.String) phrase = p.GetString();
                if (value.TryGetProperty("weight", out var w))
                {
                    if (w.ValueKind != JsonValueKind.Number || !w.TryGetDouble(out double weight) || !(weight >= 0) || double.IsInfinity(weight))
                        throw new UserException($"{source} gives colour '{key}' the weight {w.GetRawText()}; a weight is a number, 0 or more.");
                    own[rgb] = weight;
                }
            }
            else throw new UserException($"{source} gives colour '{key}' {value.ValueKind.ToString().ToLowerInvariant()}, not a phrase. {LegendExample}");
            if (string.IsNullOrWhiteSpace(phrase)) throw new UserException($"{source} gives colour '{key}' no phrase.");
            if (!legend.TryAdd(rgb, phrase.Trim())) throw new UserException($"{source} names colour #{rgb:x6} twice.");
        }
        if (legend.Count == 0) throw new UserException($"{source} names no colours.");
        weights = own;
        return legend;
    }

    /// <summary>Writes a legend as the JSON <see cref="ParseLegend"/> reads (colours may repeat, so that the parser names the duplicate).</summary>
    public static string LegendJson(IEnumerable<(uint Rgb, string Phrase, double? Weight)> entries)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            foreach (var (rgb, phrase, weight) in entries)
            {
                writer.WritePropertyName($"#{rgb & 0xFFFFFF:x6}");
                writer.WriteStartObject();
                writer.WriteString("phrase", phrase);
                if (weight is { } w) writer.WriteNumber("weight", w);
                writer.WriteEndObject();
            }
            writer.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>
    /// One region per legend colour present in the scribble file, masks [resolution, resolution] in [0, 1]
    /// (see <see cref="Regions"/>). Throws a <see cref="UserException"/> when the file is not a readable image
    /// or its header declares a side over <paramref name="limits"/> (checked before decoding).
    /// </summary>
    public static IReadOnlyList<PaintRegion> ReadRegions(string path, IReadOnlyDictionary<uint, string> legend, int resolution, Action<string> note,
        IReadOnlyDictionary<uint, double>? weights = null, ImageLimits? limits = null)
    {
        using var codec = ImageFiles.OpenChecked(path, limits, What);
        var info = new SKImageInfo(codec.Info.Width, codec.Info.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        using var bitmap = SKBitmap.Decode(codec, info) ?? throw new UserException($"The scribble '{path}' is not a readable image.");
        var bytes = new byte[bitmap.Width * bitmap.Height * 4];
        System.Runtime.InteropServices.Marshal.Copy(bitmap.GetPixels(), bytes, 0, bytes.Length);
        return Regions(bytes, bitmap.Width, bitmap.Height, legend, resolution, note, $"'{path}'", weights);
    }

    /// <summary>
    /// One region per legend colour present in an RGBA8 scribble (row-major, top row first; alpha is
    /// ignored), masks [resolution, resolution] in [0, 1]. A scribble of another size is area-averaged to
    /// the model's; one of another aspect ratio is stretched to the square. Colours missing from the legend
    /// are ignored; that, the resampling and legend colours absent from the scribble are reported through
    /// <paramref name="note"/>. <paramref name="weights"/> gives regions their own w′ by colour.
    /// </summary>
    public static IReadOnlyList<PaintRegion> Regions(ReadOnlySpan<byte> rgba, int width, int height, IReadOnlyDictionary<uint, string> legend,
        int resolution, Action<string> note, string name = "the scribble", IReadOnlyDictionary<uint, double>? weights = null)
    {
        if (width <= 0 || height <= 0 || rgba.Length != (long)width * height * 4)
            throw new UserException($"The scribble is {width}×{height} but holds {rgba.Length} bytes, not {(long)width * height * 4} (RGBA8).");
        var masks = legend.Keys.ToDictionary(c => c, _ => new float[width * height]);
        var unknown = new Dictionary<uint, int>();
        for (int p = 0; p < width * height; p++)
        {
            uint rgb = ((uint)rgba[4 * p] << 16) | ((uint)rgba[4 * p + 1] << 8) | rgba[4 * p + 2];
            if (masks.TryGetValue(rgb, out var mask)) mask[p] = 1;
            else unknown[rgb] = unknown.GetValueOrDefault(rgb) + 1;
        }
        if (unknown.Count > 0)
        {
            var top = unknown.OrderByDescending(u => u.Value).Take(5).Select(u => $"#{u.Key:x6} ({u.Value} px)");
            note($"warning: scribble colours not in the legend are ignored (left unpainted): {string.Join(", ", top)}" +
                 (unknown.Count > 5 ? $" and {unknown.Count - 5} more" : "") + ".");
        }
        if (width != resolution || height != resolution)
            note(width == height
                ? $"note: {name} is {width}×{height}; it is resampled (area-averaged) to the model's {resolution}×{resolution}."
                : $"note: {name} is {width}×{height}, not square; it is stretched and area-averaged to the model's {resolution}×{resolution}, so regions keep their place relative to the edges.");
        var regions = new List<PaintRegion>();
        foreach (var (colour, pixels) in masks)
        {
            if (!pixels.Any(p => p > 0))
            {
                note($"warning: the legend colour #{colour:x6} ('{legend[colour]}') does not occur in {name}.");
                continue;
            }
            using var full = tensor(pixels, [1, 1, height, width]);
            using var pooled = F.adaptive_avg_pool2d(full, [resolution, resolution]);
            var mask = pooled.view(resolution, resolution);
            regions.Add(new PaintRegion(legend[colour], mask, weights is not null && weights.TryGetValue(colour, out double w) ? w : null));
        }
        if (regions.Count == 0) throw new UserException($"No colour of the legend occurs in {name}.");
        return regions;
    }
}
