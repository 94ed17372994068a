using System.Diagnostics;
using EDiffI.Bridge.Protocol;
using EDiffI.Conditioning;
using EDiffI.Host.Imaging;
using EDiffI.Host.Pipeline;
using EDiffI.Host.Pipeline.Conditioners;
using EDiffI.Sampling;
using static TorchSharp.torch;

namespace EDiffI.Host.Bridge;

/// <summary>
/// Runs bridge jobs through a <see cref="GenerationService"/> (the model is loaded once): it only maps a
/// protocol request to a <see cref="GenerationRequest"/>, the service's problems to error codes, and the
/// result back to a protocol message.
/// </summary>
public sealed class PipelineJobExecutor : IJobExecutor
{
    private readonly GenerationService _service;
    private readonly string? _defaultSampler;

    /// <summary>
    /// Serves <paramref name="service"/> (not owned) under <paramref name="modelName"/>; requests that name no
    /// sampler get <paramref name="defaultSampler"/> when given, else the service's default.
    /// </summary>
    public PipelineJobExecutor(GenerationService service, string modelName, string? defaultSampler = null,
        IEnumerable<EDiffI.Textures.ITextureGpuProvider>? textureGpus = null)
    {
        _service = service;
        _textureGpus = textureGpus?.ToList() ?? [];
        _defaultSampler = defaultSampler;
        var sampler = service.SamplerFor(new GenerationRequest("probe") { Sampler = defaultSampler });
        Model = new ModelInfo
        {
            Name = modelName,
            Resolution = service.Model.Resolution,
            DefaultSteps = service.Pipeline.Manifest.DefaultSteps,
            DefaultGuidance = service.Pipeline.Manifest.DefaultGuidance,
            DefaultSampler = sampler.Name,
        };
        var capabilities = new HashSet<string> { EDiffI.Bridge.Protocol.Capabilities.Generate, EDiffI.Bridge.Protocol.Capabilities.Preview };
        if (service.CanTile) capabilities.Add(EDiffI.Bridge.Protocol.Capabilities.Tiling);
        if (_textureGpus.Count > 0) capabilities.Add(EDiffI.Bridge.Protocol.Capabilities.MaterialPreview);
        capabilities.UnionWith([EDiffI.Bridge.Protocol.Capabilities.ImageToImage, EDiffI.Bridge.Protocol.Capabilities.Inpainting,
            EDiffI.Bridge.Protocol.Capabilities.Variations]);
        if (service.CanTile) capabilities.Add(EDiffI.Bridge.Protocol.Capabilities.MakeTileable);
        capabilities.Add(EDiffI.Bridge.Protocol.Capabilities.Pbr); // the heuristic maps need nothing of the model
        foreach (int size in service.Sizes) capabilities.Add(EDiffI.Bridge.Protocol.Capabilities.SizePrefix + size.ToString(System.Globalization.CultureInfo.InvariantCulture));
        foreach (string name in service.Conditioners)
            capabilities.Add(name switch
            {
                StyleConditioner.ConditionerName => EDiffI.Bridge.Protocol.Capabilities.StyleReference,
                PaintConditioner.ConditionerName => EDiffI.Bridge.Protocol.Capabilities.PaintWithWords,
                _ => EDiffI.Bridge.Protocol.Capabilities.ConditionerPrefix + name,
            });
        Capabilities = capabilities;
    }

    /// <inheritdoc />
    public ModelInfo Model { get; }

    /// <inheritdoc />
    public IReadOnlyList<string> Samplers => _service.Samplers;

    /// <inheritdoc />
    public IReadOnlyCollection<string> Capabilities { get; }

    /// <inheritdoc />
    public BridgeError? Check(GenerateRequest request)
    {
        RequestProblem? problem;
        try
        {
            problem = _service.Check(ToRequest(request));
            _ = Convention(request.NormalConvention);
        }
        catch (Runtime.UserException e)
        {
            problem = new RequestProblem(ProblemKind.Invalid, e.Message);
        }
        return problem is null ? null : new BridgeError
        {
            RequestId = request.RequestId,
            Code = problem.Kind == ProblemKind.Unsupported ? ErrorCodes.Unsupported : ErrorCodes.InvalidRequest,
            Message = problem.Message,
        };
    }

    // The request's per-stage settings by stage name; the service checks the names and the values.
    private static Dictionary<string, StageSettings> StagesOf(List<StageEntry>? entries)
    {
        var stages = new Dictionary<string, StageSettings>(StringComparer.OrdinalIgnoreCase);
        foreach (var entry in entries ?? [])
        {
            if (string.IsNullOrWhiteSpace(entry.Name)) throw new Runtime.UserException("A stage's settings need the stage's name (\"sr256\", \"sr1024\" or \"*\").");
            if (!stages.TryAdd(entry.Name.Trim(), new StageSettings(entry.Steps, entry.Guidance, entry.AugmentationSigma, entry.SigmaMax)))
                throw new Runtime.UserException($"The stage '{entry.Name}' is given twice.");
        }
        return stages;
    }

    /// <summary>The generation request a protocol request describes: the one mapping of bridge fields to request fields.</summary>
    public GenerationRequest ToRequest(GenerateRequest request)
    {
        var generation = new GenerationRequest(request.Prompt, request.Seed, request.Steps, request.Guidance)
        {
            Sampler = request.Sampler ?? _defaultSampler, Width = request.Width, Height = request.Height,
            Tiling = string.IsNullOrEmpty(request.TileAxes)
                ? request.Tiling ? EDiffI.Networks.TileAxes.Both : EDiffI.Networks.TileAxes.None
                : EDiffI.Networks.Tiling.Parse(request.TileAxes) ?? throw new Runtime.UserException($"Tile axes must be x, y or xy (got '{request.TileAxes}')."),
            Init = request.InitImage is { } init ? new ConditionerImage(init.Rgba, init.Width, init.Height) : null,
            Mask = request.Mask is { } mask ? new ConditionerImage(mask.Rgba, mask.Width, mask.Height) : null,
            Strength = request.Strength, VariationSeed = request.VariationSeed, VariationStrength = request.VariationStrength,
            MakeTileable = request.MakeTileable, Resample = Math.Max(1, request.Resample), JumpLength = request.JumpLength,
            TileShift = !request.NoTileShift, Stages = StagesOf(request.Stages),
        };
        if (request.StyleImage is { } style)
            generation = generation.WithCondition(StyleConditioner.ConditionerName, new ConditionerInput(
                Image: new ConditionerImage(style.Rgba, style.Width, style.Height), Weight: request.StyleStrength == 0 ? null : request.StyleStrength));
        if (request.Scribble is not null || request.Legend is { Count: > 0 })
        {
            string? legend = request.Legend is { Count: > 0 } entries
                ? Scribble.LegendJson(entries.Select(e => ((uint)e.Rgb, e.Phrase.Trim(), e.Strength > 0 ? e.Strength : (double?)null)))
                : null;
            var image = request.Scribble is { } s ? new ConditionerImage(s.Rgba, s.Width, s.Height) : null;
            generation = generation.WithCondition(PaintConditioner.ConditionerName, new ConditionerInput(Text: legend, Image: image));
        }
        foreach (var entry in request.Conditions ?? [])
        {
            if (generation.Conditions.ContainsKey(entry.Name)) throw new Runtime.UserException($"The conditioner '{entry.Name}' is given twice.");
            generation = generation.WithCondition(entry.Name, new ConditionerInput(entry.Text, entry.Bytes, Weight: entry.Weight == 0 ? null : entry.Weight));
        }
        return generation;
    }

    /// <inheritdoc />
    public GenerateResult Execute(GenerateRequest request, Action<Progress> progress, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        int preview = Math.Min(request.PreviewSize, Model.Resolution);
        using var result = _service.Generate(ToRequest(request), (string stage, in SamplerStep step) => progress(new Progress
        {
            RequestId = request.RequestId,
            Stage = stage,
            Step = step.Index,
            Steps = step.Count,
            Sigma = step.Sigma,
            Preview = preview > 0 ? Preview(step.Denoised, preview) : null,
        }), cancellationToken);
        using var image = result.Images[0];
        byte[] rgba = ImageFiles.ToRgba8(image, out int width, out int height);
        var used = result.Settings;
        var notes = result.Notes.ToList();
        ImageData? materialPreview = request.MaterialPreviewSize > 0 ? MaterialPreview(rgba, width, height, request.MaterialPreviewSize, notes) : null;
        MaterialMaps? maps = null;
        if (request.Pbr)
        {
            // The same maps as `generate --pbr`: the model's height network when it ships one, else luminance.
            var convention = Convention(request.NormalConvention);
            var (pbr, note) = _service.PbrMapsOf(rgba, width, height, used.Tiling, PbrHeight.Auto, convention);
            if (note is not null) notes.Add("note: " + note);
            maps = Maps(pbr, width, height, convention);
        }
        return new GenerateResult
        {
            RequestId = request.RequestId,
            Width = width,
            Height = height,
            Rgba = rgba,
            Seed = used.Seeds[0],
            Settings = new GenerationSettings
            {
                Prompt = request.Prompt, Steps = used.Steps, Guidance = used.Guidance, Sampler = used.Sampler,
                Width = width, Height = height, Tiling = used.Tiling != EDiffI.Networks.TileAxes.None, Model = Model.Name,
                StyleStrength = used.Conditions.GetValueOrDefault(StyleConditioner.ConditionerName)?.GetValueOrDefault("strength") ?? 0,
                PaintedRegions = (int)(used.Conditions.GetValueOrDefault(PaintConditioner.ConditionerName)?.GetValueOrDefault("regions") ?? 0),
            },
            ElapsedMilliseconds = clock.Elapsed.TotalMilliseconds,
            Notes = notes.Count > 0 ? notes : null,
            MaterialPreview = materialPreview,
            Maps = maps,
        };
    }

    // The bridge's names of the normal conventions, as `generate --normal-convention` takes them.
    private static EDiffI.Textures.NormalConvention Convention(string? name) => (name ?? "").Trim().ToLowerInvariant() switch
    {
        "" or "opengl" => EDiffI.Textures.NormalConvention.OpenGL,
        "directx" => EDiffI.Textures.NormalConvention.DirectX,
        _ => throw new Runtime.UserException($"The normal convention must be opengl or directx (got '{name}')."),
    };

    // PBR maps (GenerationService.PbrMapsOf) in the protocol's layout.
    private static MaterialMaps Maps(PbrMaps.Maps maps, int width, int height, EDiffI.Textures.NormalConvention convention)
    {
        static byte Byte(float v) => (byte)Math.Round(Math.Clamp(v, 0, 1) * 255);
        ImageData Grey(float[] values, int channels)
        {
            var rgba = new byte[width * height * 4];
            for (int i = 0; i < width * height; i++)
            {
                for (int c = 0; c < 3; c++) rgba[i * 4 + c] = Byte(values[i * channels + (channels == 3 ? c : 0)]);
                rgba[i * 4 + 3] = 255;
            }
            return new ImageData { Width = width, Height = height, Rgba = rgba };
        }
        var height16 = new byte[width * height * 2];
        for (int i = 0; i < width * height; i++)
            System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(height16.AsSpan(i * 2), (ushort)Math.Round(Math.Clamp(maps.HeightMap[i], 0, 1) * 65535));
        return new MaterialMaps
        {
            Width = width, Height = height, Height16 = height16, Normal = Grey(maps.Normal, 3), Roughness = Grey(maps.Roughness, 1),
            Occlusion = Grey(maps.Occlusion, 1), NormalConvention = convention == EDiffI.Textures.NormalConvention.OpenGL ? "opengl" : "directx",
            HeightSource = maps.HeightSource,
        };
    }

    // The denoiser's current estimate of image 0, resized to size × size, as RGBA8.
    private static ImageData Preview(Tensor denoised, int size)
    {
        using var scope = NewDisposeScope();
        var first = denoised[0].unsqueeze(0).to(ScalarType.Float32);
        var small = size == first.shape[^1] ? first : nn.functional.interpolate(first, [size, size], mode: InterpolationMode.Area);
        byte[] rgba = ImageFiles.ToRgba8(small[0].clamp(-1, 1), out int width, out int height);
        return new ImageData { Width = width, Height = height, Rgba = rgba };
    }

    private readonly List<EDiffI.Textures.ITextureGpuProvider> _textureGpus;

    // The texture path's preview of the result (the same hook as `generate --preview`), read back as RGBA; a note when
    // there is no Vulkan device to render it.
    private ImageData? MaterialPreview(byte[] rgba, int width, int height, int size, List<string> notes)
    {
        if (_textureGpus.Count == 0)
        {
            notes.Add("note: this host has no Vulkan texture path; no material preview.");
            return null;
        }
        var (pixels, w, h, notRun) = Commands.TextureJob.RenderPreview(rgba, width, height, size, _textureGpus);
        if (notRun.Count > 0) notes.Add($"note: not run without a Vulkan device: {string.Join("; ", notRun)}.");
        return pixels is null ? null : new ImageData { Width = w, Height = h, Rgba = pixels };
    }
}
