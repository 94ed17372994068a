using System.IO.Compression;
using System.Text.Json;
using EDiffI.Networks;
using EDiffI.Textures;

namespace EDiffI.Host.Imaging;

/// <summary>Where the height of the PBR maps comes from.</summary>
public enum PbrHeight
{
    /// <summary>The model's height estimator when it ships one, else luminance.</summary>
    Auto,
    /// <summary>The model's height estimator (an error when it has none).</summary>
    Network,
    /// <summary>The usual heuristic: luminance as height.</summary>
    Luminance,
}

/// <summary>
/// PBR maps derived from a generated albedo: height from a learned estimator (<see cref="IHeightEstimator"/>, the model's
/// height-from-albedo network) or by the usual heuristic (what texture tools do today, luminance as height), tangent-space
/// normals from it by the framework's one Sobel convention (<see cref="NormalMaps"/>), ambient occlusion from how far a
/// pixel lies below its neighbourhood, roughness from the local detail. Every filter wraps along the axes the albedo
/// tiles, so the maps tile with it.
/// </summary>
public static class PbrMaps
{
    /// <summary>The maps of one material, each row-major with the top row first.</summary>
    /// <param name="Width">Width in pixels.</param>
    /// <param name="Height">Height in pixels.</param>
    /// <param name="HeightMap">Heights in [0, 1], white high.</param>
    /// <param name="Normal">RGB in [0, 1], three per pixel (OpenGL or DirectX, as asked).</param>
    /// <param name="Roughness">Roughness in [0, 1].</param>
    /// <param name="Occlusion">Ambient occlusion in [0, 1], 1 unoccluded.</param>
    /// <param name="HeightSource">What the height came from, as material.json records it.</param>
    public sealed record Maps(int Width, int Height, float[] HeightMap, float[] Normal, float[] Roughness, float[] Occlusion, string HeightSource);

    /// <summary>The words <c>--pbr-height</c> takes: auto, net (or network), luminance.</summary>
    public static PbrHeight? ParseHeight(string? text) => text?.Trim().ToLowerInvariant() switch
    {
        "auto" or "" => PbrHeight.Auto,
        "net" or "network" => PbrHeight.Network,
        "luminance" or "heuristic" => PbrHeight.Luminance,
        _ => null,
    };

    /// <summary>What material.json calls the luminance heuristic's height.</summary>
    public const string LuminanceSource = "luminance (heuristic)";

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>Radius, in pixels at 256², of the neighbourhood ambient occlusion and roughness look at (scaled with the size).</summary>
    public const int RadiusAt256 = 4;

    /// <summary>
    /// The maps of the RGBA8 <paramref name="albedo"/>; <paramref name="tiling"/> says which axes wrap. The height comes from
    /// <paramref name="estimator"/>, or from <see cref="LuminanceHeight"/> when it is null.
    /// </summary>
    public static Maps FromAlbedo(byte[] albedo, int width, int height, TileAxes tiling, float normalStrength = DefaultNormalStrength,
        NormalConvention convention = NormalConvention.OpenGL, IHeightEstimator? estimator = null)
    {
        var h = estimator is null ? LuminanceHeight(albedo, width, height) : estimator.Estimate(albedo, width, height, tiling);
        bool wrapX = tiling.HasFlag(TileAxes.X), wrapY = tiling.HasFlag(TileAxes.Y);
        int n = width * height;
        var normal = NormalMaps.FromHeight(h, width, height, normalStrength, wrapX, wrapY, convention);
        int radius = Math.Max(1, RadiusAt256 * Math.Max(width, height) / 256);
        var mean = BoxBlur(h, width, height, radius, wrapX, wrapY);
        var squares = BoxBlur(h.Select(v => v * v).ToArray(), width, height, radius, wrapX, wrapY);
        var ao = new float[n];
        var rough = new float[n];
        for (int i = 0; i < n; i++)
        {
            // Below the neighbourhood's mean: occluded in proportion (a crevice 0.25 deep is fully dark at 0.2).
            ao[i] = Math.Clamp(1 - 3.2f * Math.Max(0, mean[i] - h[i]), 0.2f, 1);
            // Busy surfaces (high local deviation) scatter more: roughness 0.45 on flat areas up to 0.95.
            float deviation = MathF.Sqrt(Math.Max(0, squares[i] - mean[i] * mean[i]));
            rough[i] = Math.Clamp(0.45f + 2.5f * deviation, 0, 0.95f);
        }
        return new Maps(width, height, h, normal, rough, ao, estimator is null ? LuminanceSource : $"{estimator.Kind} (network)");
    }

    /// <summary>Strength of the normals derived from the height (<see cref="NormalMaps.FromHeight"/>'s s), the default of <c>--pbr</c>.</summary>
    public const float DefaultNormalStrength = 4;

    /// <summary>
    /// The usual heuristic's height of an RGBA8 albedo: Rec. 709 luminance of the linear colour, back to a perceptual scale
    /// (so dark mortar and grout read as low), stretched to [0, 1] (<see cref="HeightMaps.Stretch"/>).
    /// </summary>
    public static float[] LuminanceHeight(byte[] albedo, int width, int height)
    {
        ArgumentNullException.ThrowIfNull(albedo);
        if (width <= 0 || height <= 0 || albedo.Length != (long)width * height * 4)
            throw new ArgumentException($"an albedo of {width}×{height} needs {(long)width * height * 4} RGBA8 bytes, not {albedo.Length}");
        var h = new float[width * height];
        for (int i = 0; i < h.Length; i++)
        {
            double r = SrgbToLinear(albedo[i * 4] / 255.0), g = SrgbToLinear(albedo[i * 4 + 1] / 255.0), b = SrgbToLinear(albedo[i * 4 + 2] / 255.0);
            h[i] = (float)Math.Sqrt(0.2126 * r + 0.7152 * g + 0.0722 * b);
        }
        return HeightMaps.Stretch(h);
    }

    private static double SrgbToLinear(double c) => c <= 0.04045 ? c / 12.92 : Math.Pow((c + 0.055) / 1.055, 2.4);

    // Separable box blur of side 2r + 1, wrapping or clamping at each axis's edges.
    private static float[] BoxBlur(float[] values, int width, int height, int r, bool wrapX, bool wrapY)
    {
        static int At(int i, int n, bool wrap) => wrap ? ((i % n) + n) % n : Math.Clamp(i, 0, n - 1);
        var rows = new float[values.Length];
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                float sum = 0;
                for (int k = -r; k <= r; k++) sum += values[y * width + At(x + k, width, wrapX)];
                rows[y * width + x] = sum / (2 * r + 1);
            }
        var result = new float[values.Length];
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                float sum = 0;
                for (int k = -r; k <= r; k++) sum += rows[At(y + k, height, wrapY) * width + x];
                result[y * width + x] = sum / (2 * r + 1);
            }
        return result;
    }

    /// <summary>
    /// Writes <c>name_albedo.png</c>, <c>name_height.png</c> (16-bit grey), <c>name_normal.png</c>, <c>name_roughness.png</c>,
    /// <c>name_ao.png</c> and <c>name.material.json</c> beside <paramref name="basePath"/> (its extension dropped); returns the files.
    /// </summary>
    public static IReadOnlyList<string> Write(string basePath, byte[] albedo, Maps maps, TileAxes tiling, string prompt, long seed,
        NormalConvention convention, IReadOnlyDictionary<string, string>? text = null)
    {
        string stem = Path.ChangeExtension(Path.GetFullPath(basePath), null);
        Directory.CreateDirectory(Path.GetDirectoryName(stem)!);
        string name = Path.GetFileName(stem);
        var files = new Dictionary<string, string>
        {
            ["albedo"] = stem + "_albedo.png", ["height"] = stem + "_height.png", ["normal"] = stem + "_normal.png",
            ["roughness"] = stem + "_roughness.png", ["ao"] = stem + "_ao.png",
        };
        WriteRgba(files["albedo"], albedo, maps.Width, maps.Height, text);
        WriteGrey16(files["height"], maps.HeightMap, maps.Width, maps.Height);
        WriteRgba(files["normal"], ToRgba(maps.Normal, 3), maps.Width, maps.Height, null);
        WriteRgba(files["roughness"], ToRgba(maps.Roughness, 1), maps.Width, maps.Height, null);
        WriteRgba(files["ao"], ToRgba(maps.Occlusion, 1), maps.Width, maps.Height, null);
        string material = stem + ".material.json";
        File.WriteAllText(material, JsonSerializer.Serialize(new
        {
            name, prompt, seed, width = maps.Width, height = maps.Height, tiling = Tiling.Name(tiling),
            normalConvention = convention == NormalConvention.OpenGL ? "opengl" : "directx",
            heightSource = maps.HeightSource,
            maps = files.ToDictionary(kv => kv.Key, kv => Path.GetFileName(kv.Value)),
            srgb = new Dictionary<string, bool> { ["albedo"] = true, ["height"] = false, ["normal"] = false, ["roughness"] = false, ["ao"] = false },
        }, Indented));
        return [.. files.Values, material];
    }

    private static byte[] ToRgba(float[] values, int channels)
    {
        int n = values.Length / channels;
        var rgba = new byte[n * 4];
        for (int i = 0; i < n; i++)
        {
            for (int c = 0; c < 3; c++) rgba[i * 4 + c] = (byte)Math.Round(Math.Clamp(values[i * channels + (channels == 3 ? c : 0)], 0, 1) * 255);
            rgba[i * 4 + 3] = 255;
        }
        return rgba;
    }

    private static void WriteRgba(string path, byte[] rgba, int width, int height, IReadOnlyDictionary<string, string>? text)
    {
        using var image = ImageFiles.FromRgba8(rgba, width, height);
        ImageFiles.SavePng(image, path, text);
    }

    /// <summary>A 16-bit greyscale PNG (colour type 0, bit depth 16, one zlib stream, no row filter).</summary>
    public static void WriteGrey16(string path, float[] values, int width, int height)
    {
        using var raw = new MemoryStream();
        using (var z = new ZLibStream(raw, CompressionLevel.Optimal, leaveOpen: true))
        {
            var row = new byte[1 + width * 2];
            for (int y = 0; y < height; y++)
            {
                row[0] = 0; // filter: none
                for (int x = 0; x < width; x++)
                {
                    ushort v = (ushort)Math.Round(Math.Clamp(values[y * width + x], 0, 1) * 65535);
                    row[1 + x * 2] = (byte)(v >> 8);
                    row[2 + x * 2] = (byte)v;
                }
                z.Write(row);
            }
        }
        using var file = File.Create(path);
        file.Write([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]);
        var header = new byte[13];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(header, width);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), height);
        header[8] = 16; // bit depth
        header[9] = 0;  // greyscale
        ImageFiles.WritePngChunk(file, "IHDR", header);
        ImageFiles.WritePngChunk(file, "IDAT", raw.ToArray());
        ImageFiles.WritePngChunk(file, "IEND", []);
    }
}
