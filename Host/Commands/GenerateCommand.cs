using System.ComponentModel;
using EDiffI.Conditioning;
using EDiffI.Host.Imaging;
using EDiffI.Host.Pipeline;
using EDiffI.Host.Pipeline.Conditioners;
using EDiffI.Host.Runtime;
using EDiffI.IO;
using EDiffI.Networks;
using EDiffI.Sampling;
using Microsoft.Extensions.Configuration;
using Spectre.Console;
using Spectre.Console.Cli;

namespace EDiffI.Host.Commands;

/// <summary>Settings of <c>generate</c>.</summary>
public sealed class GenerateSettings : DeviceSettings
{
    [CommandOption("-p|--prompt <TEXT>")]
    [Description("what to draw")]
    public string Prompt { get; init; } = "";

    [CommandOption("-o|--out <FILE>")]
    [Description("PNG to write; with --batch N, one file per image with the seed in its name")]
    public string Out { get; init; } = "image.png";

    [CommandOption("--seed <SEED>")]
    [Description("seed of the first image (default: random, printed)")]
    public long? Seed { get; init; }

    [CommandOption("--steps <N>")]
    [Description("sampler steps (default: the model's)")]
    public int? Steps { get; init; }

    [CommandOption("--guidance <W>")]
    [Description("classifier-free guidance weight; 1 = no guidance (default: the model's)")]
    public double? Guidance { get; init; }

    [CommandOption("--batch <N>")]
    [Description("number of variations (seeds seed, seed+1, ...)")]
    public int Batch { get; init; } = 1;

    [CommandOption("--sampler <NAME>")]
    [Description("heun, euler, or a plugin's sampler (default: configuration Sampling:Sampler, else heun)")]
    public string? Sampler { get; init; }

    [CommandOption("--experts <MODE>")]
    [Description("placement of an ensemble's experts: resident (all on the device, default) or low-memory (inactive ones in host memory)")]
    public string Experts { get; init; } = "resident";

    [CommandOption("--paint <PNG>")]
    [Description("paint-with-words: a colour-coded scribble; each colour's region gets the legend's phrase")]
    public string? Paint { get; init; }

    [CommandOption("--legend <JSON>")]
    [Description("paint-with-words legend: {\"#ff0000\": \"red bricks\", \"#0000ff\": {\"phrase\": \"blue water\", \"weight\": 0.8}}, each phrase a part of the prompt, a weight its own w'")]
    public string? Legend { get; init; }

    [CommandOption("--paint-weight <W>")]
    [Description("paint-with-words w' of w(sigma) = w'*log(1+sigma)*max(QK^T) (default 0.4)")]
    public double? PaintWeight { get; init; }

    [CommandOption("--style <IMAGE>")]
    [Description("style reference image, encoded by the model's CLIP image encoder")]
    public string? Style { get; init; }

    [CommandOption("--style-strength <S>")]
    [Description("scale of the style embedding (default 1; 0 = no style)")]
    public double? StyleStrength { get; init; }

    [CommandOption("--cond <NAME=VALUE>")]
    [Description("input of a conditioner, e.g. --cond palette=#aa3322,#ffffff (repeatable; VALUE @FILE reads the file's bytes); `plugins` lists the conditioners")]
    public string[] Conditions { get; init; } = [];

    [CommandOption("--schedule <NAME>")]
    [Description("sigma schedule (default: configuration Sampling:Schedule, else karras)")]
    public string? Schedule { get; init; }

    [CommandOption("--size <PX>")]
    [Description("side of the square output: the base's (64) or a cascade stage's (256, 1024); the cascade runs as far as that (default: the model's largest)")]
    public int? Size { get; init; }

    [CommandOption("--stage-steps <STAGE=N>")]
    [Description("sampler steps of super-resolution stages, e.g. --stage-steps sr256=12,sr1024=6, or one number for every stage (default: model.json's)")]
    public string? StageSteps { get; init; }

    [CommandOption("--stage-guidance <STAGE=W>")]
    [Description("guidance weight of super-resolution stages, e.g. sr256=1.5, or one number for every stage (default: model.json's, usually 1 = none)")]
    public string? StageGuidance { get; init; }

    [CommandOption("--sigma-aug <STAGE=S>")]
    [Description("σ_aug of super-resolution stages: the noise the low-resolution input is corrupted with, e.g. sr256=0.2, or one number for every stage")]
    public string? SigmaAug { get; init; }

    [CommandOption("--stage-sigma-max <STAGE=S>")]
    [Description("largest σ of super-resolution stages' schedules, e.g. sr256=0.5: lower stays closer to the upsampled input, higher redraws more detail (default: model.json's)")]
    public string? StageSigmaMax { get; init; }

    [CommandOption("--tile <AXES>")]
    [Description("seamless tiling: x, y or xy (circular padding in every stage, so the texture repeats without a seam along those axes)")]
    public string? Tile { get; init; }

    [CommandOption("--no-tile-shift")]
    [Description("with --tile: circular padding alone, without rolling the image by a fresh offset before every network evaluation (the roll is on by default and hides the networks' cell grid and edge habits at the wrap seam)")]
    public bool NoTileShift { get; init; }

    [CommandOption("--stage-window <PX>")]
    [Description("run the super-resolution stages in overlapping windows of this side (a multiple of 32), 0 for the whole image (default: windows only when a stage would not fit Cascade:MemoryBudgetMB)")]
    public int? StageWindow { get; init; }

    [CommandOption("--init <PNG>")]
    [Description("img2img: start from this square image (SDEdit) at the cascade stage of its size; with --mask, inpaint it")]
    public string? Init { get; init; }

    [CommandOption("--strength <S>")]
    [Description("img2img strength: 0 returns the init, 1 ignores it at 64 (default 0.6)")]
    public double? Strength { get; init; }

    [CommandOption("--mask <PNG>")]
    [Description("inpainting mask for --init, the same size: white = regenerate, black = keep")]
    public string? Mask { get; init; }

    [CommandOption("--make-tileable <PNG>")]
    [Description("make an existing texture seamless: regenerate a band around its wrap seams with tiling on (--tile picks the axes, default xy)")]
    public string? MakeTileable { get; init; }

    [CommandOption("--resample <R>")]
    [Description("inpainting and make-tileable: run each piece of the schedule R times, noising back between the runs (RePaint's resampling), so the repaired region blends in; costs R times the steps (default 1, none)")]
    public int Resample { get; init; } = 1;

    [CommandOption("--jump-length <J>")]
    [Description("steps per resampled piece with --resample (RePaint's jump length; default an eighth of the steps)")]
    public int JumpLength { get; init; }

    [CommandOption("--variation-seed <SEED>")]
    [Description("a second seed whose noise is mixed in by --variation-strength (A1111's variations)")]
    public long? VariationSeed { get; init; }

    [CommandOption("--variation-strength <S>")]
    [Description("0 = the seed's own image, 1 = the variation seed's (spherical interpolation of their noise)")]
    public double VariationStrength { get; init; }

    [CommandOption("--pbr")]
    [Description("also write PBR maps beside --out: name_albedo, name_height (16-bit), name_normal, name_roughness, name_ao and name.material.json (height from the model's height network when it ships one, else luminance)")]
    public bool Pbr { get; init; }

    [CommandOption("--pbr-height <SOURCE>")]
    [Description("height of --pbr: auto (the model's height network when it ships one, else luminance; default), net, or luminance (the usual heuristic)")]
    public string PbrHeight { get; init; } = "auto";

    [CommandOption("--normal-convention <C>")]
    [Description("normal maps of --pbr: opengl (green up, Unity, Godot, Blender; default) or directx (Unreal)")]
    public string NormalConvention { get; init; } = "opengl";

    [CommandOption("--ktx2 <FILE>")]
    [Description("also write the texture as a KTX2 file: BC7, sRGB, the whole mip chain (wrap-filtered when tiling), on the GPU through Vulkan")]
    public string? Ktx2 { get; init; }

    [CommandOption("--preview <PNG>")]
    [Description("also write a preview render of the texture as a material on a sphere and a tiled plane (Vulkan)")]
    public string? Preview { get; init; }

    [CommandOption("--vulkan-device <N|NAME>")]
    [Description("the Vulkan device of --ktx2 and --preview (default: a discrete GPU, else any)")]
    public string? VulkanDevice { get; init; }

    [CommandOption("--repeat <N>")]
    [Description("draw the request N times in one process, printing each time (benchmarking: the first run includes warm-up); the files hold the last")]
    public int Repeat { get; init; } = 1;

    [CommandOption("--model <FOLDER>")]
    [Description("model folder (model.json, unet.json, unet.safetensors); default models/default")]
    public string? Model { get; init; }
}

/// <summary><c>generate</c>: text to image. Maps options to a <see cref="GenerationRequest"/> and the result to PNG files.</summary>
public sealed class GenerateCommand(GenerationServiceFactory services, IConfiguration configuration, IEnumerable<EDiffI.Textures.ITextureGpuProvider> textureGpus) : Command<GenerateSettings>
{
    /// <inheritdoc />
    public override int Execute(CommandContext context, GenerateSettings s, CancellationToken cancellationToken)
    {
        if (!s.Out.EndsWith(".png", StringComparison.OrdinalIgnoreCase)) throw new UserException($"--out must name a .png file (got '{s.Out}').");
        var convention = Convention(s.NormalConvention); // refused before any slow work
        var heightSource = PbrMaps.ParseHeight(s.PbrHeight) ?? throw new UserException($"--pbr-height takes auto, net or luminance (got '{s.PbrHeight}').");
        if (heightSource != EDiffI.Host.Imaging.PbrHeight.Auto && !s.Pbr) throw new UserException("--pbr-height sets the height of the PBR maps; add --pbr.");
        if (s.Ktx2 is not null && !s.Ktx2.EndsWith(".ktx2", StringComparison.OrdinalIgnoreCase)) throw new UserException($"--ktx2 must name a .ktx2 file (got '{s.Ktx2}').");
        if (s.Preview is not null && !s.Preview.EndsWith(".png", StringComparison.OrdinalIgnoreCase)) throw new UserException($"--preview must name a .png file (got '{s.Preview}').");
        var limits = configuration.GetSection(ImageLimits.Section).Get<ImageLimits>() ?? ImageLimits.Default;
        var request = Request(s, limits); // reads the input files (headers checked first) before any slow work
        s.ApplyRuntime();
        var device = TorchRuntime.ParseDevice(s.Device);
        using var service = services.Open(s.Model ?? ModelLocator.ResolveDefault(), device, TorchRuntime.ComputeType(device, s.Precision), s.Experts);
        service.Validate(request);
        if (s.Pbr && heightSource == EDiffI.Host.Imaging.PbrHeight.Network && service.HeightEstimatorKind is null)
            throw new UserException("--pbr-height net: this model ships no usable height network (model.json's \"height\", and a plugin that provides its kind); use --pbr-height luminance.");
        var sampler = service.SamplerFor(request);
        using var cancel = new ConsoleCancellation();
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancel.Token, cancellationToken);
        if (s.Repeat < 1 || s.Repeat > 100) throw new UserException($"--repeat must be between 1 and 100 (got {s.Repeat}).");
        for (int run = 1; run < s.Repeat; run++)
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            using (var warm = service.Generate(request, (GenerationProgress?)null, linked.Token))
                Console.WriteLine($"run {run}: {warm.Images.shape[0]} image(s) of {warm.Settings.Width}×{warm.Settings.Height} in {clock.Elapsed.TotalSeconds:0.000} s{StageTimes(warm.Settings)}");
        }
        var total = System.Diagnostics.Stopwatch.StartNew();
        GenerationResult result = null!;
        AnsiConsole.Progress().AutoClear(false).Columns(
                new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
            .Start(ctx =>
            {
                // One bar per stage, named as progress names it: base, then each super-resolution stage.
                var tasks = new Dictionary<string, ProgressTask>();
                result = service.Generate(request, (string stage, in SamplerStep step) =>
                {
                    if (!tasks.TryGetValue(stage, out var task))
                        tasks[stage] = task = ctx.AddTask(stage, maxValue: step.Count);
                    task.Value = step.Index + 1;
                    task.Description = $"{stage}: {sampler.Name} step {step.Index + 1}/{step.Count} σ={step.Sigma:0.###}";
                }, linked.Token);
                foreach (var task in tasks.Values) task.Value = task.MaxValue;
            });
        using (result)
        {
            Console.WriteLine($"run {s.Repeat}: {result.Images.shape[0]} image(s) of {result.Settings.Width}×{result.Settings.Height} in {total.Elapsed.TotalSeconds:0.000} s" +
                (result.Settings.Stages.Count > 0 ? $" (base {result.Settings.Steps} steps, " + string.Join(", ", result.Settings.Stages.Select(st => $"{st.Name} {st.Steps} steps σ_aug {st.AugmentationSigma}")) + ")" : "")
                + StageTimes(result.Settings));
            foreach (string note in result.Notes) Console.WriteLine(note);
            if (device.type == TorchSharp.DeviceType.CUDA)
                Console.WriteLine(EDiffI.Denoising.CudaGraphs.Summary());
            var seeds = result.Settings.Seeds;
            for (int i = 0; i < seeds.Count; i++)
            {
                string path = seeds.Count == 1 ? s.Out : Path.ChangeExtension(s.Out, null) + $"-seed{seeds[i]}.png";
                using var image = result.Images[i];
                var text = PngText(result.Settings, i, s.Model ?? ModelLocator.ResolveDefault());
                ImageFiles.SavePng(image, path, text);
                AnsiConsole.MarkupLineInterpolated($"wrote [green]{path}[/] (seed {seeds[i]})");
                if (!s.Pbr && s.Ktx2 is null && s.Preview is null) continue;
                var rgba = ImageFiles.ToRgba8(image, out int w, out int h);
                if (s.Pbr)
                {
                    var (maps, note) = service.PbrMapsOf(rgba, w, h, result.Settings.Tiling, heightSource, convention);
                    if (note is not null) Console.WriteLine(note);
                    var files = PbrMaps.Write(path, rgba, maps, result.Settings.Tiling, result.Settings.Prompt, seeds[i], convention, text);
                    AnsiConsole.MarkupLineInterpolated($"wrote PBR maps (height: {maps.HeightSource}): [green]{string.Join(", ", files.Select(Path.GetFileName))}[/]");
                }
                if (s.Ktx2 is not null || s.Preview is not null)
                {
                    string? Each(string? file) => file is null || seeds.Count == 1 ? file : Path.ChangeExtension(file, null) + $"-seed{seeds[i]}" + Path.GetExtension(file);
                    TextureJob.AfterGenerate(rgba, w, h, result.Settings.Tiling.HasFlag(EDiffI.Networks.TileAxes.X), result.Settings.Tiling.HasFlag(EDiffI.Networks.TileAxes.Y), Each(s.Ktx2), Each(s.Preview), textureGpus, Console.Out, s.VulkanDevice);
                }
            }
        }
        return 0;
    }

    private static EDiffI.Textures.NormalConvention Convention(string text) => text.Trim().ToLowerInvariant() switch
    {
        "opengl" or "gl" => EDiffI.Textures.NormalConvention.OpenGL,
        "directx" or "dx" => EDiffI.Textures.NormalConvention.DirectX,
        _ => throw new UserException($"--normal-convention takes opengl or directx (got '{text}')."),
    };

    // "; base 0.412 s, sr256 0.210 s, sr1024 0.655 s": where a generation's time went, for --repeat's timings.
    private static string StageTimes(GenerationSettingsUsed used) =>
        used.Stages.Count == 0 ? "" : FormattableString.Invariant($"; base {used.BaseSeconds:0.000} s, ") +
            string.Join(", ", used.Stages.Select(st => FormattableString.Invariant($"{st.Name} {st.Seconds:0.000} s")));

    /// <summary>
    /// The text chunks of image <paramref name="index"/>: "parameters" in the one-line form A1111-style tools read, and
    /// "ediffi" with the settings used as JSON.
    /// </summary>
    internal static Dictionary<string, string> PngText(GenerationSettingsUsed used, int index, string model)
    {
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        string line = string.Join(", ", new[]
        {
            $"Steps: {used.Steps}", $"Sampler: {used.Sampler}", $"Schedule: {used.Schedule}", string.Format(inv, "CFG scale: {0}", used.Guidance),
            $"Seed: {used.Seeds[index]}", $"Size: {used.Width}x{used.Height}", $"Model: {Path.GetFileName(Path.TrimEndingDirectorySeparator(model))}",
        }.Concat(used.Tiling != TileAxes.None ? [$"Tiling: {Tiling.Name(used.Tiling)}" + (used.TileShift ? "" : " (no shift)")] : [])
         .Concat(used.Edit is { } edit ? [string.Format(inv, "Edit: {0}, Strength: {1}", edit, used.Strength)] : [])
         .Concat(used.Variation is { } v ? [string.Format(inv, "Variation seed: {0}, Variation strength: {1}", v.Seed, v.Strength)] : [])
         .Concat(used.Resampling is { } r ? [string.Format(inv, "Resample: {0}, Jump length: {1}", r.Count, r.JumpLength)] : [])
         .Concat(used.Stages.Select(st => string.Format(inv, "{0}: {1} steps, CFG {2}, sigma_aug {3}", st.Name, st.Steps, st.Guidance, st.AugmentationSigma)
            + (st.SigmaMax is { } top ? string.Format(inv, ", sigma_max {0}", top) : ""))));
        var json = System.Text.Json.JsonSerializer.Serialize(new
        {
            prompt = used.Prompt, seed = used.Seeds[index], model, used.Steps, used.Guidance, used.Sampler, used.Schedule, used.Width, used.Height,
            tiling = Tiling.Name(used.Tiling), tileShift = used.Tiling != TileAxes.None ? used.TileShift : (bool?)null, edit = used.Edit, strength = used.Strength,
            variationSeed = used.Variation?.Seed, variationStrength = used.Variation?.Strength,
            resample = used.Resampling?.Count, jumpLength = used.Resampling?.JumpLength,
            stages = used.Stages.Select(st => new { st.Name, st.Steps, st.Guidance, sigmaAug = st.AugmentationSigma, sigmaMax = st.SigmaMax, st.Window }),
        });
        return new Dictionary<string, string> { ["parameters"] = used.Prompt + "\n" + line, ["ediffi"] = json };
    }

    /// <summary>The request the options describe; reads the style, scribble, legend and @FILE inputs.</summary>
    internal static GenerationRequest Request(GenerateSettings s, ImageLimits? limits = null)
    {
        var request = new GenerationRequest(s.Prompt, s.Seed, s.Steps, s.Guidance, s.Batch)
        {
            Sampler = s.Sampler, Schedule = s.Schedule, Width = s.Size ?? 0, Height = s.Size ?? 0,
            Stages = StageOptions.Parse(s.StageSteps, s.StageGuidance, s.SigmaAug, s.StageSigmaMax),
            Tiling = s.Tile is null ? TileAxes.None
                : Tiling.Parse(s.Tile) ?? throw new UserException($"--tile takes x, y or xy (got '{s.Tile}')."),
            TileShift = !s.NoTileShift,
            StageWindow = s.StageWindow,
            Strength = s.Strength, VariationSeed = s.VariationSeed, VariationStrength = s.VariationStrength,
            Resample = s.Resample, JumpLength = s.JumpLength,
        };
        if (s.MakeTileable is not null && s.Init is not null) throw new UserException("--make-tileable takes the image itself; leave out --init.");
        if ((s.Init ?? s.MakeTileable) is { } initPath)
        {
            var (rgba, width, height) = ImageFiles.ReadRgba8(initPath, s.Init is null ? "The texture to make tileable" : "The init image", limits);
            request = request with { Init = new ConditionerImage(rgba, width, height), MakeTileable = s.MakeTileable is not null };
        }
        if (s.Mask is not null)
        {
            var (rgba, width, height) = ImageFiles.ReadRgba8(s.Mask, "The mask", limits);
            request = request with { Mask = new ConditionerImage(rgba, width, height) };
        }
        if ((s.Paint is null) != (s.Legend is null)) throw new UserException("--paint and --legend go together: the scribble and the legend of its colours.");
        if (s.Paint is not null)
        {
            var (rgba, width, height) = ImageFiles.ReadRgba8(s.Paint, Scribble.What, limits);
            string legend;
            try
            {
                legend = File.ReadAllText(s.Legend!);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new UserException($"The legend '{s.Legend}' cannot be read: {e.Message}", e);
            }
            request = request.WithCondition(PaintConditioner.ConditionerName, new ConditionerInput(Text: legend, Image: new ConditionerImage(rgba, width, height), Weight: s.PaintWeight));
        }
        else if (s.PaintWeight is not null) throw new UserException("--paint-weight needs --paint and --legend.");
        if (s.Style is not null)
        {
            var (rgba, width, height) = ImageFiles.ReadRgba8(s.Style, "The style reference", limits);
            request = request.WithCondition(StyleConditioner.ConditionerName, new ConditionerInput(Image: new ConditionerImage(rgba, width, height), Weight: s.StyleStrength));
        }
        else if (s.StyleStrength is not null) throw new UserException("--style-strength needs --style.");
        foreach (string pair in s.Conditions)
        {
            int eq = pair.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0) throw new UserException($"--cond expects NAME=VALUE (got '{pair}').");
            string name = pair[..eq].Trim(), value = pair[(eq + 1)..];
            if (request.Conditions.ContainsKey(name)) throw new UserException($"The conditioner '{name}' is given twice.");
            ConditionerInput input;
            if (value.StartsWith('@'))
            {
                try
                {
                    input = new ConditionerInput(Bytes: File.ReadAllBytes(value[1..]));
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    throw new UserException($"--cond {name}: '{value[1..]}' cannot be read: {e.Message}", e);
                }
            }
            else input = new ConditionerInput(Text: value);
            request = request.WithCondition(name, input);
        }
        return request;
    }
}
