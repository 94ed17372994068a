using System.Globalization;
using System.Text.Json;
using EDiffI.Host.Imaging;
using EDiffI.Host.Pipeline;
using EDiffI.Host.Runtime;
using EDiffI.Networks;
using EDiffI.Plugins.Height;
using EDiffI.Plugins.World;
using EDiffI.Textures;
using static TorchSharp.torch;

/// <summary>
/// The PBR measurement of the textures issue: on held-out world textures of every family, how close the height of the
/// model's height network and of the usual heuristic (luminance as height) come to the world's ground-truth height:
/// height RMSE after per-image standardisation (<see cref="HeightMaps"/>) and the mean angle between the normal maps
/// derived from each height and from the ground truth by the same Sobel filter and strength (<see cref="NormalMaps"/>).
/// </summary>
internal static class HeightEvaluation
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>The families shown in the figure, one row each, in the order of the enumeration (the order they are measured in).</summary>
    private static readonly TextureFamily[] FigureFamilies =
        [TextureFamily.Bricks, TextureFamily.Tiles, TextureFamily.Planks, TextureFamily.Marble, TextureFamily.Cobblestones, TextureFamily.MetalPlates];

    /// <summary>
    /// Evaluate height [--model models/default | --height runs/height/height] [--size 256] [--count 16] [--device cpu]
    /// [--out docs/data/height.json] [--figure height.png]
    /// </summary>
    public static int Run(Args o)
    {
        var device = TorchRuntime.ParseDevice(o.Get("device") ?? "cpu");
        int size = int.Parse(o.Get("size") ?? "256", CultureInfo.InvariantCulture);
        int count = int.Parse(o.Get("count") ?? "16", CultureInfo.InvariantCulture);
        if (size < 8 || count < 1) throw new ArgumentException($"--size must be at least 8 and --count at least 1 (got {size} and {count})");
        string source;
        IHeightEstimator estimator;
        if (o.Get("height") is string folder)
        {
            source = folder;
            estimator = new HeightUNetFactory().Load(folder, device);
        }
        else
        {
            string model = o.Get("model") ?? Path.Combine("models", "default");
            var spec = ModelManifest.Load(model).Height ?? throw new UserException($"'{model}' ships no height estimator (model.json has no \"height\"); pass --height <folder>.");
            source = Path.Combine(model, spec.Path);
            estimator = new ModelCatalog([], [], heightEstimators: [new HeightUNetFactory()]).LoadHeightEstimator(spec, model, device);
        }
        using var _ = estimator;
        var rows = new List<object>();
        var figure = new List<Tensor>();
        var all = new List<(double NetRmse, double LumRmse, double NetAngle, double LumAngle)>();
        Console.WriteLine($"height of {count} held-out world textures per family at {size}², network {source} against luminance");
        Console.WriteLine("| family | RMSE network | RMSE luminance | normal error network (°) | normal error luminance (°) |");
        Console.WriteLine("|---|---|---|---|---|");
        foreach (var family in Enum.GetValues<TextureFamily>())
        {
            var scores = new List<(double NetRmse, double LumRmse, double NetAngle, double LumAngle)>();
            foreach (var spec in HeldOutTextures(family, count))
            {
                var (rgba, truth) = Draw(spec, size);
                var tiling = spec.Tileable ? TileAxes.Both : TileAxes.None;
                var network = estimator.Estimate(rgba, size, size, tiling);
                var luminance = PbrMaps.LuminanceHeight(rgba, size, size);
                var reference = Normals(truth, size, tiling);
                scores.Add((HeightMaps.Rmse(network, truth), HeightMaps.Rmse(luminance, truth),
                            HeightMaps.MeanAngleDegrees(Normals(network, size, tiling), reference),
                            HeightMaps.MeanAngleDegrees(Normals(luminance, size, tiling), reference)));
                if (scores.Count == 1 && FigureFamilies.Contains(family))
                    figure.Add(stack([Albedo(rgba, size), Grey(truth, size), Grey(luminance, size), Grey(network, size)]));
            }
            all.AddRange(scores);
            var m = Mean(scores);
            Console.WriteLine($"| {family} | {m.NetRmse:0.000} | {m.LumRmse:0.000} | {m.NetAngle:0.0} | {m.LumAngle:0.0} |");
            rows.Add(new { family = family.ToString(), count = scores.Count, rmseNetwork = m.NetRmse, rmseLuminance = m.LumRmse, normalDegreesNetwork = m.NetAngle, normalDegreesLuminance = m.LumAngle });
        }
        var overall = Mean(all);
        Console.WriteLine($"| **all** | **{overall.NetRmse:0.000}** | **{overall.LumRmse:0.000}** | **{overall.NetAngle:0.0}** | **{overall.LumAngle:0.0}** |");
        int better = all.Count(s => s.NetRmse < s.LumRmse);
        Console.WriteLine($"the network's RMSE is lower on {better} of {all.Count} textures");
        if (o.Get("out") is string outPath)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(outPath))!);
            File.WriteAllText(outPath, JsonSerializer.Serialize(new
            {
                estimator = source, size, countPerFamily = count, split = "held-out (family, colour) pairs of the world",
                normalisation = "per image zero mean, unit standard deviation; RMSE of the standardised maps",
                normals = $"NormalMaps.FromHeight of each height stretched to [0, 1], strength {PbrMaps.DefaultNormalStrength}, wrapping when the texture tiles",
                overall = new { rmseNetwork = overall.NetRmse, rmseLuminance = overall.LumRmse, normalDegreesNetwork = overall.NetAngle, normalDegreesLuminance = overall.LumAngle, networkBetterOn = better, textures = all.Count },
                families = rows,
            }, Indented));
            Console.WriteLine($"wrote {outPath}");
        }
        if (o.Get("figure") is string figurePath && figure.Count > 0)
        {
            // One row per family: albedo | ground-truth height | luminance heuristic | network.
            using var images = cat(figure, 0);
            using var grid = EvaluationImages.Grid(images, 4);
            ImageFiles.SavePng(grid, figurePath);
            Console.WriteLine($"wrote {figurePath} (rows: {string.Join(", ", FigureFamilies)}; columns: albedo, ground truth, luminance, network)");
        }
        foreach (var t in figure) t.Dispose();
        return 0;
    }

    /// <summary>Backgrounds of held-out scenes whose (family, colour) pair training never draws, from seeds 5,000,000 on.</summary>
    internal static IEnumerable<TextureSpec> HeldOutTextures(TextureFamily family, int count)
    {
        int found = 0;
        for (long seed = 5_000_000; found < count; seed++)
        {
            var spec = SceneSampler.Sample(seed, WorldSplit.HeldOut).Background;
            if (spec.Family != family || !HeldOut.Texture(spec.Family, spec.Color)) continue;
            found++;
            yield return spec;
        }
    }

    /// <summary>A texture's RGBA8 albedo and ground-truth height at <paramref name="size"/>².</summary>
    internal static (byte[] Rgba, float[] Height) Draw(TextureSpec spec, int size)
    {
        var rgb = new byte[size * size * 3];
        var height = new float[size * size];
        TextureRenderer.Render(spec, size, new PixelWindow(0, 0, size, size), rgb, height);
        var rgba = new byte[size * size * 4];
        for (int p = 0; p < size * size; p++)
        {
            rgba[p * 4] = rgb[p * 3];
            rgba[p * 4 + 1] = rgb[p * 3 + 1];
            rgba[p * 4 + 2] = rgb[p * 3 + 2];
            rgba[p * 4 + 3] = 255;
        }
        return (rgba, height);
    }

    // The normal map --pbr writes from a height: stretched to [0, 1], the default strength, wrapping where the texture tiles.
    private static float[] Normals(float[] height, int size, TileAxes tiling) =>
        NormalMaps.FromHeight(HeightMaps.Stretch((float[])height.Clone()), size, size, PbrMaps.DefaultNormalStrength,
            tiling.HasFlag(TileAxes.X), tiling.HasFlag(TileAxes.Y), NormalConvention.OpenGL);

    private static (double NetRmse, double LumRmse, double NetAngle, double LumAngle) Mean(List<(double NetRmse, double LumRmse, double NetAngle, double LumAngle)> s) =>
        (s.Average(x => x.NetRmse), s.Average(x => x.LumRmse), s.Average(x => x.NetAngle), s.Average(x => x.LumAngle));

    private static Tensor Albedo(byte[] rgba, int size) =>
        tensor(rgba, [size, size, 4])[.., .., TensorIndex.Slice(0, 3)].permute(2, 0, 1).to(ScalarType.Float32) / 127.5 - 1;

    // A height in [0, 1] as a grey image in [−1, 1], stretched so the columns compare.
    private static Tensor Grey(float[] height, int size) =>
        (tensor(HeightMaps.Stretch((float[])height.Clone()), [1, size, size]) * 2 - 1).expand(3, size, size).contiguous();
}
