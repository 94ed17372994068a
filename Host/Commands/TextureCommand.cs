using System.ComponentModel;
using EDiffI.Host.Imaging;
using EDiffI.Host.Runtime;
using EDiffI.Textures;
using SkiaSharp;
using Spectre.Console.Cli;

namespace EDiffI.Host.Commands;

/// <summary>Settings of <c>texture</c>.</summary>
public sealed class TextureSettings : CommandSettings
{
    [CommandOption("--in <PNG>")]
    [Description("the texture to process (an image file); its meaning is --kind")]
    public string? In { get; init; }

    [CommandOption("--kind <KIND>")]
    [Description("what --in holds: color (sRGB albedo, default), normal (a normal map) or linear (height, roughness, masks)")]
    public string Kind { get; init; } = "color";

    [CommandOption("--normal <PNG>")]
    [Description("the material's normal map, for the preview")]
    public string? Normal { get; init; }

    [CommandOption("--height <PNG>")]
    [Description("the material's height map (white high; a colour image counts the mean of R, G, B): parallax in the preview, and the normal map when --normal is not given")]
    public string? Height { get; init; }

    [CommandOption("--roughness <PNG>")]
    [Description("the material's roughness map, for the preview")]
    public string? Roughness { get; init; }

    [CommandOption("--mips")]
    [Description("write the full mip chain (filtered in linear light for colour, renormalised for normals)")]
    public bool Mips { get; init; }

    [CommandOption("--format <FORMAT>")]
    [Description("format of --out: rgba8 (default), bc1, bc5 (normal maps) or bc7")]
    public string Format { get; init; } = "rgba8";

    [CommandOption("--out <FILE>")]
    [Description("the GPU texture to write: .ktx2 or .dds")]
    public string? Out { get; init; }

    [CommandOption("--normal-out <FILE>")]
    [Description("write the normal map made from --height: .png, or .ktx2/.dds (BC5, with mips when --mips)")]
    public string? NormalOut { get; init; }

    [CommandOption("--strength <S>")]
    [Description("normal-map strength: the height gradient's scale (default 4)")]
    public float Strength { get; init; } = 4;

    [CommandOption("--convention <CONVENTION>")]
    [Description("normal-map convention: opengl (green up, default) or directx (green down)")]
    public string Convention { get; init; } = "opengl";

    [CommandOption("--clamp")]
    [Description("the texture does not tile: clamp at the edges instead of wrapping (mips and normals)")]
    public bool Clamp { get; init; }

    [CommandOption("--preview <PNG>")]
    [Description("render the material on a sphere and a tiled plane into a PNG")]
    public string? Preview { get; init; }

    [CommandOption("--preview-size <PX>")]
    [Description("height of the preview; it is twice as wide (default 512)")]
    public int PreviewSize { get; init; } = 512;

    [CommandOption("--vulkan-device <DEVICE>")]
    [Description("the Vulkan device: its index or part of its name (default: a discrete GPU, else any)")]
    public string? VulkanDevice { get; init; }

    [CommandOption("--cpu")]
    [Description("do not use the GPU: mips and normals on the CPU; compression and the preview are not run")]
    public bool Cpu { get; init; }

    [CommandOption("--bench")]
    [Description("time each pass on a procedural texture, on the CPU and on the Vulkan device, and stop")]
    public bool Bench { get; init; }

    [CommandOption("--bench-size <PX>")]
    [Description("with --bench: the texture's side (default 1024)")]
    public int BenchSize { get; init; } = 1024;

    [CommandOption("--bench-repeat <N>")]
    [Description("with --bench: timed runs of each pass after one warm-up; the median is reported (default 5)")]
    public int BenchRepeat { get; init; } = 5;

    [CommandOption("--list-devices")]
    [Description("list the Vulkan devices and stop")]
    public bool ListDevices { get; init; }
}

/// <summary><c>texture</c>: mips, normal maps, BC1/BC5/BC7 in KTX2 or DDS, and a preview render, on the GPU through Vulkan.</summary>
public sealed class TextureCommand(IEnumerable<ITextureGpuProvider> providers) : Command<TextureSettings>
{
    /// <inheritdoc />
    public override int Execute(CommandContext context, TextureSettings s, CancellationToken cancellationToken)
    {
        if (s.ListDevices)
        {
            foreach (var provider in providers)
            {
                var devices = provider.Devices(out string? problem);
                if (devices.Count == 0) Console.WriteLine($"{provider.Name}: no device ({problem})");
                for (int i = 0; i < devices.Count; i++) Console.WriteLine($"{provider.Name} {i}: {devices[i]}");
            }
            if (!providers.Any()) Console.WriteLine("No GPU texture plugin is loaded (the VulkanTextures plugin provides one).");
            return 0;
        }
        if (s.Bench)
        {
            if (s.BenchSize < 16 || s.BenchSize > 8192) throw new UserException($"--bench-size must be 16 to 8192 (got {s.BenchSize}).");
            if (s.BenchRepeat < 1) throw new UserException($"--bench-repeat must be at least 1 (got {s.BenchRepeat}).");
            TextureBench.Run(s.BenchSize, s.BenchRepeat, s.PreviewSize, s.Cpu ? null : providers.FirstOrDefault(), s.VulkanDevice, Console.Out);
            return 0;
        }
        var request = TextureJob.Parse(s);
        // Passes that fell back or could not run without a device are reported on the console, not failures.
        TextureJob.Run(request, providers, Console.Out);
        return 0;
    }
}

/// <summary>One texture job: the options of <c>texture</c>, already checked.</summary>
public sealed record TextureRequest(
    TextureImage Input, TextureKind Kind, TextureImage? Normal, TextureImage? Height, TextureImage? Roughness,
    bool Mips, TextureFormat Format, string? Out, string? NormalOut, float Strength, NormalConvention Convention, bool WrapX, bool WrapY,
    string? Preview, int PreviewSize, string? Device, bool CpuOnly);

/// <summary>What a job did: the files written, the device used, and the passes it could not run (with why).</summary>
public sealed record TextureResult(string? Device, IReadOnlyList<string> Written, IReadOnlyList<string> NotRun);

/// <summary>
/// The texture path behind the <c>texture</c> verb, and the hook for <c>generate --ktx2/--preview</c>: opens the GPU when
/// it can, otherwise runs mips and normals on the CPU reference and names the passes it could not run.
/// </summary>
public static class TextureJob
{
    /// <summary>Checks the verb's options and reads its images; every problem is a <see cref="UserException"/>.</summary>
    public static TextureRequest Parse(TextureSettings s)
    {
        if (s.In is null) throw new UserException("texture needs --in <image> (for example --in albedo.png --mips --format bc7 --out albedo.ktx2).");
        var kind = s.Kind.ToLowerInvariant() switch
        {
            "color" or "colour" or "albedo" => TextureKind.Color,
            "normal" => TextureKind.Normal,
            "linear" or "data" => TextureKind.Linear,
            _ => throw new UserException($"--kind must be color, normal or linear (got '{s.Kind}')."),
        };
        var format = s.Format.ToLowerInvariant() switch
        {
            "rgba8" => TextureFormat.Rgba8,
            "bc1" => TextureFormat.Bc1,
            "bc5" => TextureFormat.Bc5,
            "bc7" => TextureFormat.Bc7,
            _ => throw new UserException($"--format must be rgba8, bc1, bc5 or bc7 (got '{s.Format}')."),
        };
        if (format == TextureFormat.Bc5 && kind != TextureKind.Normal)
            throw new UserException("BC5 stores two channels, a normal map's x and y: use it with --kind normal (for colour, bc7 or bc1).");
        var convention = s.Convention.ToLowerInvariant() switch
        {
            "opengl" or "gl" => NormalConvention.OpenGL,
            "directx" or "dx" => NormalConvention.DirectX,
            _ => throw new UserException($"--convention must be opengl or directx (got '{s.Convention}')."),
        };
        if (s.Out is not null) CheckContainer(s.Out, "--out");
        if (s.NormalOut is not null)
        {
            if (s.Height is null) throw new UserException("--normal-out writes the normal map made from --height: pass --height <image>.");
            if (!s.NormalOut.EndsWith(".png", StringComparison.OrdinalIgnoreCase)) CheckContainer(s.NormalOut, "--normal-out");
        }
        if (s.Out is null && s.Preview is null && s.NormalOut is null)
            throw new UserException("Nothing to write: pass --out <file.ktx2|file.dds>, --normal-out <file> or --preview <file.png>.");
        if (format != TextureFormat.Rgba8 && s.Out is null) throw new UserException($"--format {s.Format} sets the format of --out: pass --out <file.ktx2|file.dds>.");
        if (s.Mips && s.Out is null && s.NormalOut is null) throw new UserException("--mips needs --out (or --normal-out) to write the chain to.");
        if (!float.IsFinite(s.Strength) || s.Strength < 0) throw new UserException($"--strength must be 0 or more (got {s.Strength}).");
        if (s.PreviewSize < 8 || s.PreviewSize > 4096) throw new UserException($"--preview-size must be 8 to 4096 pixels (got {s.PreviewSize}).");
        return new TextureRequest(Read(s.In, "The texture (--in)"), kind, ReadOptional(s.Normal, "The normal map (--normal)"), ReadOptional(s.Height, "The height map (--height)"),
            ReadOptional(s.Roughness, "The roughness map (--roughness)"), s.Mips, format, s.Out, s.NormalOut, s.Strength, convention, !s.Clamp, !s.Clamp,
            s.Preview, s.PreviewSize, s.VulkanDevice, s.Cpu);
    }

    private static void CheckContainer(string path, string option)
    {
        if (!path.EndsWith(".ktx2", StringComparison.OrdinalIgnoreCase) && !path.EndsWith(".dds", StringComparison.OrdinalIgnoreCase))
            throw new UserException($"{option} must name a .ktx2 or .dds file (got '{path}').");
    }

    private static TextureImage Read(string path, string what)
    {
        var (rgba, w, h) = ImageFiles.ReadRgba8(path, what);
        return TextureImage.FromRgba8(rgba, w, h);
    }

    private static TextureImage? ReadOptional(string? path, string what) => path is null ? null : Read(path, what);

    /// <summary>Runs <paramref name="r"/>, reporting on <paramref name="log"/>.</summary>
    public static TextureResult Run(TextureRequest r, IEnumerable<ITextureGpuProvider> providers, TextWriter log)
    {
        ArgumentNullException.ThrowIfNull(r);
        var written = new List<string>();
        var notRun = new List<string>();
        using var gpu = OpenGpu(r, providers, log);
        string where = gpu is null ? "CPU" : gpu.DeviceName;

        // Normals from height first: the preview and --normal-out use them.
        TextureImage? normal = r.Normal;
        TextureImage? derived = null;
        if (r.Height is { } height && (r.Normal is null || r.NormalOut is not null))
        {
            var h = HeightValues(height);
            derived = gpu?.NormalFromHeight(h, height.Width, height.Height, r.Strength, r.WrapX, r.WrapY, r.Convention)
                ?? NormalMaps.FromHeightImage(h, height.Width, height.Height, r.Strength, r.WrapX, r.WrapY, r.Convention);
            normal ??= derived;
            log.WriteLine($"normal map from height ({height.Width}×{height.Height}, strength {r.Strength}, {r.Convention}) on {where}");
        }
        if (r.Out is not null)
        {
            Write(r.Out, r.Input, r.Kind, r.Format, r.Mips, r.WrapX, r.WrapY, gpu, where, log, notRun);
            written.Add(r.Out);
        }
        if (r.NormalOut is not null && derived is not null)
        {
            if (r.NormalOut.EndsWith(".png", StringComparison.OrdinalIgnoreCase)) SavePng(derived, r.NormalOut);
            else Write(r.NormalOut, derived, TextureKind.Normal, TextureFormat.Bc5, r.Mips, r.WrapX, r.WrapY, gpu, where, log, notRun);
            written.Add(r.NormalOut);
        }
        if (r.Preview is not null)
        {
            if (gpu is null) notRun.Add($"the preview render ({r.Preview} not written)");
            else
            {
                var albedo = r.Kind == TextureKind.Color ? r.Input : Grey();
                var heightGrey = r.Height is null ? null : GreyImage(HeightValues(r.Height), r.Height.Width, r.Height.Height);
                var preview = gpu.RenderPreview(new PreviewMaterial(albedo, normal, r.Roughness, heightGrey, r.Convention), r.PreviewSize);
                SavePng(preview, r.Preview);
                written.Add(r.Preview);
                log.WriteLine($"preview {preview.Width}×{preview.Height} on {where}: {r.Preview}");
            }
        }
        if (notRun.Count > 0) log.WriteLine($"not run without a Vulkan device: {string.Join("; ", notRun)}");
        return new TextureResult(gpu?.DeviceName, written, notRun);
    }

    /// <summary>
    /// The hook for <c>generate --ktx2 FILE --preview FILE</c> and the bridge: after an image is generated (RGBA8, row-major),
    /// writes its BC7 mip chain to <paramref name="ktx2"/> and/or its preview PNG to <paramref name="preview"/>, on the GPU
    /// when one opens, and returns what it did. The generated image is an sRGB colour texture; its mips wrap along the
    /// axes it was generated to tile on (<paramref name="wrapX"/>, <paramref name="wrapY"/>) and clamp along the others.
    /// </summary>
    public static TextureResult AfterGenerate(byte[] rgba, int width, int height, bool wrapX, bool wrapY, string? ktx2, string? preview,
        IEnumerable<ITextureGpuProvider> providers, TextWriter log, string? device = null, int previewSize = 512)
    {
        if (ktx2 is not null) CheckContainer(ktx2, "--ktx2");
        var request = new TextureRequest(TextureImage.FromRgba8(rgba, width, height), TextureKind.Color, null, null, null, true, TextureFormat.Bc7,
            ktx2, null, 4, NormalConvention.OpenGL, wrapX, wrapY, preview, previewSize, device, false);
        return Run(request, providers, log);
    }

    /// <summary>
    /// The preview of an RGBA8 colour texture (the hook's, <paramref name="size"/> pixels high) as RGBA8 pixels, for the
    /// bridge to return beside a result; null pixels when no Vulkan device could render it (<c>NotRun</c> says what).
    /// </summary>
    public static (byte[]? Rgba, int Width, int Height, IReadOnlyList<string> NotRun) RenderPreview(byte[] rgba, int width, int height, int size,
        IEnumerable<ITextureGpuProvider> providers)
    {
        string file = Path.Combine(Path.GetTempPath(), $"ediffi-preview-{Guid.NewGuid():N}.png");
        try
        {
            var done = AfterGenerate(rgba, width, height, true, true, null, file, providers, TextWriter.Null, null, size);
            if (!File.Exists(file)) return (null, 0, 0, done.NotRun);
            var (pixels, w, h) = EDiffI.Host.Imaging.ImageFiles.ReadRgba8(file, "The material preview");
            return (pixels, w, h, done.NotRun);
        }
        finally
        {
            File.Delete(file);
        }
    }

    private static string Addressing(bool wrapX, bool wrapY) => (wrapX, wrapY) switch
    {
        (true, true) => "wrap",
        (false, false) => "clamp",
        (true, false) => "wrap x, clamp y",
        _ => "clamp x, wrap y",
    };

    /// <summary>A height image's values: the mean of its R, G and B (a grey image's grey), white high.</summary>
    public static float[] HeightValues(TextureImage image)
    {
        var h = new float[image.Width * image.Height];
        for (int i = 0; i < h.Length; i++) h[i] = (image.Pixels[i * 4] + image.Pixels[i * 4 + 1] + image.Pixels[i * 4 + 2]) / 3f;
        return h;
    }

    private static TextureImage GreyImage(float[] values, int width, int height)
    {
        var image = new TextureImage(width, height);
        for (int i = 0; i < values.Length; i++)
        {
            image.Pixels[i * 4] = image.Pixels[i * 4 + 1] = image.Pixels[i * 4 + 2] = values[i];
            image.Pixels[i * 4 + 3] = 1;
        }
        return image;
    }

    private static TextureImage Grey()
    {
        var g = new TextureImage(1, 1);
        Array.Fill(g.Pixels, 0.8f);
        return g;
    }

    private static ITextureGpu? OpenGpu(TextureRequest r, IEnumerable<ITextureGpuProvider> providers, TextWriter log)
    {
        if (r.CpuOnly)
        {
            log.WriteLine("--cpu: mips and normals on the CPU.");
            return null;
        }
        var provider = providers.FirstOrDefault();
        if (provider is null)
        {
            log.WriteLine("No GPU texture plugin is loaded (the VulkanTextures plugin provides one): mips and normals on the CPU.");
            return null;
        }
        try
        {
            var gpu = provider.Open(r.Device);
            log.WriteLine($"{provider.Name} device: {gpu.DeviceName}");
            return gpu;
        }
        catch (TextureGpuUnavailableException e)
        {
            // A device the user named that does not exist is their mistake; a machine without a driver falls back.
            if (r.Device is not null && provider.Devices(out _).Count > 0) throw new UserException(e.Message, e);
            log.WriteLine($"No {provider.Name} device: {e.Message} Falling back to the CPU for mips and normals.");
            return null;
        }
    }

    private static void Write(string path, TextureImage image, TextureKind kind, TextureFormat format, bool mips, bool wrapX, bool wrapY, ITextureGpu? gpu, string where,
        TextWriter log, List<string> notRun)
    {
        var chain = mips ? gpu?.MipChain(image, kind, wrapX, wrapY) ?? TextureMath.MipChain(image, kind, wrapX, wrapY) : [image];
        if (mips) log.WriteLine($"{chain.Count} mip levels of {path} on {where} ({Addressing(wrapX, wrapY)}, {kind})");
        if (format != TextureFormat.Rgba8 && gpu is null)
        {
            notRun.Add($"{format.ToString().ToUpperInvariant()} compression ({path} holds RGBA8 instead)");
            format = TextureFormat.Rgba8;
        }
        var levels = chain.Select(level => format == TextureFormat.Rgba8 ? level.ToRgba8() : gpu!.Compress(level, format)).ToList();
        var encoded = new EncodedTexture(format, kind == TextureKind.Color && format != TextureFormat.Bc5, image.Width, image.Height, levels);
        string full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        if (path.EndsWith(".dds", StringComparison.OrdinalIgnoreCase)) DdsFile.Write(full, encoded);
        else Ktx2File.Write(full, encoded);
        log.WriteLine($"wrote {path}: {format.ToString().ToUpperInvariant()}{(encoded.Srgb ? " sRGB" : "")}, {image.Width}×{image.Height}, {levels.Count} level(s)");
    }

    /// <summary>Writes a texture level as an 8-bit RGBA PNG.</summary>
    public static void SavePng(TextureImage image, string path)
    {
        var rgba = image.ToRgba8();
        var info = new SKImageInfo(image.Width, image.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        using var bitmap = new SKBitmap(info);
        System.Runtime.InteropServices.Marshal.Copy(rgba, 0, bitmap.GetPixels(), rgba.Length);
        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        string full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        using var stream = File.Create(full);
        data.SaveTo(stream);
    }
}

/// <summary>
/// <c>texture --bench</c>: each pass on one procedural colour texture (and its height), timed end to end per call
/// (upload, dispatch, download for the GPU), the median of several runs after a warm-up, CPU reference beside it.
/// </summary>
public static class TextureBench
{
    /// <summary>Times the passes at <paramref name="size"/>² and prints a Markdown table.</summary>
    public static void Run(int size, int repeat, int previewSize, ITextureGpuProvider? provider, string? device, TextWriter log)
    {
        var image = new TextureImage(size, size);
        var height = new float[size * size];
        for (int y = 0; y < size; y++)
            for (int x = 0; x < size; x++)
            {
                // Periodic bands and blobs: smooth areas, edges and three colours, so every BC7 path is exercised.
                double u = 2 * Math.PI * x / size, v = 2 * Math.PI * y / size;
                double a = 0.5 + 0.5 * Math.Sin(8 * u) * Math.Cos(5 * v), b = 0.5 + 0.5 * Math.Sin(3 * u + 13 * v), c = Math.Sin(21 * u) > 0.6 ? 1 : 0;
                int o = (y * size + x) * 4;
                image.Pixels[o] = (float)(0.2 + 0.6 * a);
                image.Pixels[o + 1] = (float)(0.3 + 0.5 * b * (1 - 0.5 * c));
                image.Pixels[o + 2] = (float)(0.1 + 0.3 * c + 0.2 * a * b);
                image.Pixels[o + 3] = 1;
                height[y * size + x] = (float)(0.5 * a + 0.3 * b + 0.2 * c);
            }
        var normals = NormalMaps.FromHeightImage(height, size, size, 4, true, true, NormalConvention.OpenGL);
        ITextureGpu? gpu = null;
        string? problem = provider is null ? "no GPU plugin (or --cpu)" : null;
        try
        {
            if (provider is not null) gpu = provider.Open(device);
        }
        catch (TextureGpuUnavailableException e)
        {
            problem = e.Message;
        }
        using (gpu)
        {
            log.WriteLine($"texture bench: {size}×{size}, median of {repeat} after a warm-up; CPU: {Environment.ProcessorCount} cores, one thread; GPU: {gpu?.DeviceName ?? "none (" + problem + ")"}");
            log.WriteLine();
            log.WriteLine("| pass | CPU reference (ms) | Vulkan (ms) | Vulkan rate |");
            log.WriteLine("| --- | ---: | ---: | ---: |");
            double mp = size * (double)size / 1e6;
            Row(log, $"mip chain, colour, wrap ({TextureMath.LevelCount(size, size)} levels)", () => TextureMath.MipChain(image, TextureKind.Color, true, true),
                gpu is null ? null : () => gpu.MipChain(image, TextureKind.Color, true, true), repeat, mp, "MP/s");
            Row(log, "normal map from height", () => NormalMaps.FromHeight(height, size, size, 4, true, true, NormalConvention.OpenGL),
                gpu is null ? null : () => gpu.NormalFromHeight(height, size, size, 4, true, true, NormalConvention.OpenGL), repeat, mp, "MP/s");
            Row(log, "BC7 (mode 6), level 0", null, gpu is null ? null : () => gpu.Compress(image, TextureFormat.Bc7), repeat, mp, "MP/s");
            Row(log, "BC1, level 0", null, gpu is null ? null : () => gpu.Compress(image, TextureFormat.Bc1), repeat, mp, "MP/s");
            Row(log, "BC5 (normals), level 0", null, gpu is null ? null : () => gpu.Compress(normals, TextureFormat.Bc5), repeat, mp, "MP/s");
            double previewMp = 2.0 * previewSize * previewSize / 1e6;
            Row(log, $"preview {2 * previewSize}×{previewSize} (albedo + normal + height)", null,
                gpu is null ? null : () => gpu.RenderPreview(new PreviewMaterial(image, normals, null, new TextureImage(size, size, ExpandHeight(height))), previewSize), repeat, previewMp, "MP/s");
        }
    }

    private static float[] ExpandHeight(float[] h)
    {
        var p = new float[h.Length * 4];
        for (int i = 0; i < h.Length; i++) p[i * 4] = p[i * 4 + 1] = p[i * 4 + 2] = h[i];
        return p;
    }

    private static double Median(Action run, int repeat)
    {
        run(); // warm-up: pipelines are created on first use
        var times = new double[repeat];
        for (int i = 0; i < repeat; i++)
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            run();
            times[i] = clock.Elapsed.TotalMilliseconds;
        }
        Array.Sort(times);
        return times[repeat / 2];
    }

    private static void Row(TextWriter log, string pass, Action? cpu, Action? gpu, int repeat, double megapixels, string unit)
    {
        string c = cpu is null ? "— (no CPU path)" : $"{Median(cpu, repeat):0.0}";
        string g = "—", rate = "—";
        if (gpu is not null)
        {
            double ms = Median(gpu, repeat);
            g = $"{ms:0.0}";
            rate = $"{megapixels / (ms / 1000):0.0} {unit}";
        }
        log.WriteLine($"| {pass} | {c} | {g} | {rate} |");
    }
}
