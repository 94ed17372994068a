using System.Text.Json;
using System.Text.Json.Nodes;
using EDiffI.IO;
using SkiaSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace EDiffI.Plugins.Clip;

/// <summary>
/// CLIP's image preprocessing (Hugging Face CLIPImageProcessor): resize the short side with
/// antialiased bicubic filtering, centre crop, scale to [0, 1], normalise with CLIP's mean and std.
/// Images are quantised to 8 bits before and after resizing, as the reference does by running PIL
/// on uint8 images, so a generated image is seen exactly as a saved-and-reloaded one would be.
/// </summary>
public sealed record ClipImageProcessor
{
    /// <summary>The preprocessor configuration's file name.</summary>
    public const string ConfigFile = "preprocessor_config.json";

    /// <summary>Target length of the short side after resizing.</summary>
    public int ShortestEdge { get; init; } = 224;
    /// <summary>Height of the centre crop.</summary>
    public int CropHeight { get; init; } = 224;
    /// <summary>Width of the centre crop.</summary>
    public int CropWidth { get; init; } = 224;
    /// <summary>Per-channel mean subtracted after scaling to [0, 1] (CLIP's).</summary>
    public float[] Mean { get; init; } = [0.48145466f, 0.4578275f, 0.40821073f];
    /// <summary>Per-channel standard deviation divided by (CLIP's).</summary>
    public float[] Std { get; init; } = [0.26862954f, 0.26130258f, 0.27577711f];
    /// <summary>Whether to resize.</summary>
    public bool DoResize { get; init; } = true;
    /// <summary>Whether to centre crop.</summary>
    public bool DoCenterCrop { get; init; } = true;
    /// <summary>Whether to normalise.</summary>
    public bool DoNormalize { get; init; } = true;

    /// <summary>CLIP's defaults for a vision tower of <paramref name="imageSize"/> pixels.</summary>
    public static ClipImageProcessor ForImageSize(int imageSize) =>
        new() { ShortestEdge = imageSize, CropHeight = imageSize, CropWidth = imageSize };

    /// <summary>Reads a <c>preprocessor_config.json</c>, or returns CLIP's defaults for <paramref name="imageSize"/> when there is none.</summary>
    /// <exception cref="InvalidDataException">When the file cannot be read or describes other processing.</exception>
    public static ClipImageProcessor Load(string path, int imageSize)
    {
        var result = ForImageSize(imageSize);
        if (!File.Exists(path)) return result;
        try
        {
            if (JsonNode.Parse(File.ReadAllText(path)) is not JsonObject o) throw new InvalidDataException("not a JSON object");
            int resample = o["resample"]?.GetValue<int>() ?? 3;
            if (resample != 3) throw new InvalidDataException($"resample {resample} is not bicubic (3), the only filter CLIP uses");
            var size = o["size"];
            int shortest = size is JsonObject s ? s["shortest_edge"]?.GetValue<int>()
                           ?? throw new InvalidDataException("size has no shortest_edge") : size?.GetValue<int>() ?? imageSize;
            var crop = o["crop_size"];
            (int ch, int cw) = crop is JsonObject c ? (c["height"]!.GetValue<int>(), c["width"]!.GetValue<int>())
                : crop is JsonValue v ? (v.GetValue<int>(), v.GetValue<int>()) : (imageSize, imageSize);
            float[] Floats(string key, float[] fallback) => o[key] is JsonArray a ? a.Select(x => x!.GetValue<float>()).ToArray() : fallback;
            double rescale = o["rescale_factor"]?.GetValue<double>() ?? 1 / 255.0;
            if (Math.Abs(rescale - 1 / 255.0) > 1e-9) throw new InvalidDataException($"rescale_factor {rescale} is not 1/255");
            result = result with
            {
                ShortestEdge = shortest, CropHeight = ch, CropWidth = cw,
                Mean = Floats("image_mean", result.Mean), Std = Floats("image_std", result.Std),
                DoResize = o["do_resize"]?.GetValue<bool>() ?? true, DoCenterCrop = o["do_center_crop"]?.GetValue<bool>() ?? true,
                DoNormalize = o["do_normalize"]?.GetValue<bool>() ?? true,
            };
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException or NullReferenceException or InvalidDataException)
        {
            throw new InvalidDataException($"'{path}' is not a CLIP preprocessor configuration: {e.Message}.", e);
        }
        if (result.Mean.Length != 3 || result.Std.Length != 3 || result.Std.Any(x => x <= 0))
            throw new InvalidDataException($"'{path}' needs three image_mean values and three positive image_std values.");
        if (result.ShortestEdge < 1 || result.CropHeight < 1 || result.CropWidth < 1)
            throw new InvalidDataException($"'{path}' gives a non-positive size or crop size.");
        return result;
    }

    /// <summary>This processing as a Hugging Face <c>preprocessor_config.json</c>.</summary>
    public string ToJson() => new JsonObject
    {
        ["image_processor_type"] = "CLIPImageProcessor",
        ["do_resize"] = DoResize, ["size"] = new JsonObject { ["shortest_edge"] = ShortestEdge }, ["resample"] = 3,
        ["do_center_crop"] = DoCenterCrop, ["crop_size"] = new JsonObject { ["height"] = CropHeight, ["width"] = CropWidth },
        ["do_rescale"] = true, ["rescale_factor"] = 1 / 255.0, ["do_normalize"] = DoNormalize,
        ["image_mean"] = new JsonArray(Mean.Select(x => (JsonNode)x).ToArray()),
        ["image_std"] = new JsonArray(Std.Select(x => (JsonNode)x).ToArray()),
        ["do_convert_rgb"] = true,
    }.ToJsonString(new JsonSerializerOptions { WriteIndented = true });

    /// <summary>Size after resizing the short side to <see cref="ShortestEdge"/> (Hugging Face's rounding: the long side truncated).</summary>
    public (int Height, int Width) ResizedSize(int height, int width)
    {
        if (!DoResize) return (height, width);
        return height <= width
            ? (ShortestEdge, (int)((long)ShortestEdge * width / height))
            : ((int)((long)ShortestEdge * height / width), ShortestEdge);
    }

    /// <summary>RGB images in [−1, 1], [B, 3, H, W] of any size → normalised pixels [B, 3, crop height, crop width] (float32, same device).</summary>
    public Tensor Apply(Tensor images)
    {
        if (images.dim() != 4 || images.shape[1] != 3)
            throw new ArgumentException($"CLIP takes RGB images [B, 3, H, W] in [−1, 1], got [{string.Join(", ", images.shape)}]");
        using var scope = NewDisposeScope();
        // 8-bit values, as PIL sees them.
        var x = ((images.to(ScalarType.Float32) + 1) * 127.5).round().clamp(0, 255);
        var (h, w) = ResizedSize((int)x.shape[2], (int)x.shape[3]);
        if (h != x.shape[2] || w != x.shape[3])
            x = F.interpolate(x, [h, w], mode: InterpolationMode.Bicubic, align_corners: false, antialias: true).round().clamp(0, 255);
        if (DoCenterCrop)
        {
            if (CropHeight > h || CropWidth > w)
                throw new ArgumentException($"a {h}×{w} image cannot be centre-cropped to {CropHeight}×{CropWidth}");
            x = x.narrow(2, (h - CropHeight) / 2, CropHeight).narrow(3, (w - CropWidth) / 2, CropWidth);
        }
        x = x / 255.0;
        if (DoNormalize)
        {
            var mean = tensor(Mean, device: x.device).view(1, 3, 1, 1);
            var std = tensor(Std, device: x.device).view(1, 3, 1, 1);
            x = (x - mean) / std;
        }
        return x.contiguous().MoveToOuterDisposeScope();
    }
}

/// <summary>Reads image files for the CLIP image encoder (through the host's SkiaSharp).</summary>
public static class ClipImageFiles
{
    /// <summary>Decodes an image file (PNG, JPEG, WebP, GIF, BMP...) to RGB [1, 3, H, W] in [−1, 1]; alpha is dropped, as CLIP's convert-to-RGB does.</summary>
    /// <exception cref="FileNotFoundException">When there is no such file.</exception>
    /// <exception cref="InvalidDataException">
    /// When the file is not an image SkiaSharp can decode, or its header declares a side over
    /// <paramref name="limits"/> (default <see cref="ImageLimits.Default"/>; checked before decoding).
    /// </exception>
    public static Tensor Load(string path, ImageLimits? limits = null)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"No image file at '{path}'.", path);
        using var codec = SKCodec.Create(path)
            ?? throw new InvalidDataException($"'{path}' is not a readable image (PNG, JPEG, WebP, GIF or BMP expected).");
        (limits ?? ImageLimits.Default).Check(path, codec.Info.Width, codec.Info.Height);
        var info = new SKImageInfo(codec.Info.Width, codec.Info.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        using var bitmap = new SKBitmap(info);
        var result = codec.GetPixels(info, bitmap.GetPixels());
        if (result is not (SKCodecResult.Success or SKCodecResult.IncompleteInput))
            throw new InvalidDataException($"'{path}' could not be decoded ({result}).");
        var bytes = new byte[info.Width * info.Height * 4];
        System.Runtime.InteropServices.Marshal.Copy(bitmap.GetPixels(), bytes, 0, bytes.Length);
        using var scope = NewDisposeScope();
        var rgba = tensor(bytes, [info.Height, info.Width, 4]);
        var rgb = rgba.narrow(2, 0, 3).permute(2, 0, 1).unsqueeze(0).to(ScalarType.Float32) / 127.5 - 1;
        return rgb.contiguous().MoveToOuterDisposeScope();
    }
}
