using System.Globalization;
using System.Text.Json;
using EDiffI.Attention;
using EDiffI.Host.Runtime;
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
    /// <summary>Reads a legend: colour (#rrggbb) to phrase. Throws a <see cref="UserException"/> when unreadable.</summary>
    public static IReadOnlyDictionary<uint, string> ReadLegend(string path)
    {
        Dictionary<string, string>? raw;
        try
        {
            raw = JsonSerializer.Deserialize<Dictionary<string, string>>(File.ReadAllText(path));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException)
        {
            throw new UserException($"The legend '{path}' cannot be read: {e.Message} " +
                                    "It should be JSON like {\"#ff0000\": \"red bricks\", \"#0000ff\": \"blue water\"}.", e);
        }
        if (raw is null || raw.Count == 0) throw new UserException($"The legend '{path}' names no colours.");
        var legend = new Dictionary<uint, string>();
        foreach (var (key, phrase) in raw)
        {
            string hex = key.Trim().TrimStart('#');
            if (hex.Length != 6 || !uint.TryParse(hex, NumberStyles.HexNumber, CultureInfo.InvariantCulture, out uint rgb))
                throw new UserException($"The legend '{path}' has the colour '{key}'; colours are written #rrggbb.");
            if (string.IsNullOrWhiteSpace(phrase)) throw new UserException($"The legend '{path}' gives colour '{key}' no phrase.");
            if (!legend.TryAdd(rgb, phrase.Trim())) throw new UserException($"The legend '{path}' names colour '{key}' twice.");
        }
        return legend;
    }

    /// <summary>
    /// One region per legend colour present in the scribble, masks [resolution, resolution] in [0, 1]
    /// (area-averaged when the scribble has another size). Colours missing from the legend are ignored
    /// and reported through <paramref name="note"/>, as is resampling.
    /// </summary>
    public static IReadOnlyList<PaintRegion> ReadRegions(string path, IReadOnlyDictionary<uint, string> legend, int resolution, Action<string> note)
    {
        using var bitmap = (File.Exists(path) ? SKBitmap.Decode(path) : null)
            ?? throw new UserException($"The scribble '{path}' is not a readable image.");
        int width = bitmap.Width, height = bitmap.Height;
        var masks = legend.Keys.ToDictionary(c => c, _ => new float[width * height]);
        var unknown = new Dictionary<uint, int>();
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                var c = bitmap.GetPixel(x, y);
                uint rgb = ((uint)c.Red << 16) | ((uint)c.Green << 8) | c.Blue;
                if (masks.TryGetValue(rgb, out var mask)) mask[y * width + x] = 1;
                else unknown[rgb] = unknown.GetValueOrDefault(rgb) + 1;
            }
        if (unknown.Count > 0)
        {
            var top = unknown.OrderByDescending(u => u.Value).Take(5).Select(u => $"#{u.Key:x6} ({u.Value} px)");
            note($"warning: scribble colours not in the legend are ignored: {string.Join(", ", top)}" +
                 (unknown.Count > 5 ? $" and {unknown.Count - 5} more" : "") + ".");
        }
        if (width != resolution || height != resolution)
            note($"note: the scribble is {width}×{height}; it is resampled (area-averaged) to the model's {resolution}×{resolution}.");
        var regions = new List<PaintRegion>();
        foreach (var (colour, pixels) in masks)
        {
            if (!pixels.Any(p => p > 0))
            {
                note($"warning: the legend colour #{colour:x6} ('{legend[colour]}') does not occur in the scribble.");
                continue;
            }
            using var full = tensor(pixels, [1, 1, height, width]);
            var mask = F.adaptive_avg_pool2d(full, [resolution, resolution]).view(resolution, resolution);
            regions.Add(new PaintRegion(legend[colour], mask));
        }
        if (regions.Count == 0) throw new UserException($"No colour of the legend occurs in the scribble '{path}'.");
        return regions;
    }
}
