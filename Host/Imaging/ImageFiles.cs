using EDiffI.Host.Runtime;
using EDiffI.IO;
using SkiaSharp;
using static TorchSharp.torch;

namespace EDiffI.Host.Imaging;

/// <summary>Reads and writes images through SkiaSharp, converting to and from tensors in [−1, 1].</summary>
public static class ImageFiles
{
    /// <summary>Writes an image tensor [3, H, W] in [−1, 1] as an 8-bit RGBA PNG.</summary>
    public static void SavePng(Tensor image, string path) => SavePng(image, path, null);

    /// <summary>
    /// As above, with <paramref name="text"/> stored as international text chunks (iTXt, UTF-8) after the header, so the
    /// prompt, seed, model and settings travel with the file (the "parameters" key is what A1111-style tools read).
    /// </summary>
    public static void SavePng(Tensor image, string path, IReadOnlyDictionary<string, string>? text)
    {
        var rgba = ToRgba8(image, out int width, out int height);
        var info = new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        using var bitmap = new SKBitmap(info);
        System.Runtime.InteropServices.Marshal.Copy(rgba, 0, bitmap.GetPixels(), rgba.Length);
        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        string full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        byte[] png = data.ToArray();
        if (text is { Count: > 0 }) png = WithText(png, text);
        File.WriteAllBytes(full, png);
    }

    // Inserts one iTXt chunk per entry after IHDR (the 8-byte signature, then IHDR's 4 + 4 + 13 + 4 bytes).
    private static byte[] WithText(byte[] png, IReadOnlyDictionary<string, string> text)
    {
        const int afterHeader = 8 + 4 + 4 + 13 + 4;
        using var output = new MemoryStream();
        output.Write(png, 0, afterHeader);
        foreach (var (key, value) in text)
        {
            // keyword (Latin-1, 1-79 bytes), NUL, compression flag 0, method 0, empty language tag, NUL, empty translated keyword, NUL, UTF-8 text
            var body = new List<byte>(System.Text.Encoding.Latin1.GetBytes(key.Length > 79 ? key[..79] : key)) { 0, 0, 0, 0, 0 };
            body.AddRange(System.Text.Encoding.UTF8.GetBytes(value));
            WritePngChunk(output, "iTXt", body.ToArray());
        }
        output.Write(png, afterHeader, png.Length - afterHeader);
        return output.ToArray();
    }

    /// <summary>Writes one PNG chunk: the data's length (big-endian), the 4-letter type, the data, the CRC-32 of type and data.</summary>
    internal static void WritePngChunk(Stream output, string type, byte[] data)
    {
        var body = new byte[4 + data.Length];
        System.Text.Encoding.ASCII.GetBytes(type, body);
        data.CopyTo(body, 4);
        Span<byte> number = stackalloc byte[4];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(number, (uint)data.Length);
        output.Write(number);
        output.Write(body);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(number, Crc32(body));
        output.Write(number);
    }

    /// <summary>The CRC-32 of PNG chunks (ISO 3309, polynomial 0xEDB88320 reflected), over the type and data.</summary>
    private static uint Crc32(ReadOnlySpan<byte> bytes)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in bytes)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++) crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320 : crc >> 1;
        }
        return ~crc;
    }

    /// <summary>The iTXt and tEXt entries of a PNG file, by keyword (what <see cref="SavePng(Tensor, string, IReadOnlyDictionary{string, string})"/> wrote).</summary>
    public static Dictionary<string, string> ReadPngText(string path)
    {
        var bytes = File.ReadAllBytes(path);
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        int at = 8;
        while (at + 12 <= bytes.Length)
        {
            int length = (int)System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(at));
            string type = System.Text.Encoding.ASCII.GetString(bytes, at + 4, 4);
            var body = bytes.AsSpan(at + 8, length);
            int nul = body.IndexOf((byte)0);
            if (type == "iTXt" && nul > 0)
            {
                int textStart = nul + 3;
                textStart += body[textStart..].IndexOf((byte)0) + 1; // language tag
                textStart += body[textStart..].IndexOf((byte)0) + 1; // translated keyword
                result[System.Text.Encoding.Latin1.GetString(body[..nul])] = System.Text.Encoding.UTF8.GetString(body[textStart..]);
            }
            else if (type == "tEXt" && nul > 0)
                result[System.Text.Encoding.Latin1.GetString(body[..nul])] = System.Text.Encoding.Latin1.GetString(body[(nul + 1)..]);
            if (type == "IEND") break;
            at += 12 + length;
        }
        return result;
    }

    /// <summary>RGBA8 bytes of an image tensor [3, H, W] in [−1, 1] (alpha opaque), row-major.</summary>
    public static byte[] ToRgba8(Tensor image, out int width, out int height)
    {
        using var scope = NewDisposeScope();
        if (image.dim() != 3 || image.shape[0] != 3) throw new ArgumentException("expected an image tensor [3, H, W]");
        height = (int)image.shape[1];
        width = (int)image.shape[2];
        var hwc = ((image.to(ScalarType.Float32).cpu() + 1) * 127.5).round().clamp(0, 255).to(ScalarType.Byte).permute(1, 2, 0).contiguous();
        var rgb = hwc.data<byte>().ToArray();
        var rgba = new byte[width * height * 4];
        for (int i = 0, j = 0; i < rgb.Length; i += 3, j += 4)
        {
            rgba[j] = rgb[i];
            rgba[j + 1] = rgb[i + 1];
            rgba[j + 2] = rgb[i + 2];
            rgba[j + 3] = 255;
        }
        return rgba;
    }

    /// <summary>RGBA8 pixels (row-major, top row first) as [3, height, width] in [−1, 1], float32; alpha is dropped.</summary>
    public static Tensor FromRgba8(byte[] rgba, int width, int height)
    {
        if (width <= 0 || height <= 0 || rgba.Length != (long)width * height * 4)
            throw new UserException($"An image of {width}×{height} needs {(long)width * height * 4} RGBA8 bytes, not {rgba.Length}.");
        using var scope = NewDisposeScope();
        var pixels = tensor(rgba, [height, width, 4]).narrow(2, 0, 3).permute(2, 0, 1).to(ScalarType.Float32) / 127.5 - 1;
        return pixels.contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Opens an image file for decoding after checking the size its header declares against
    /// <paramref name="limits"/> (default <see cref="ImageLimits.Default"/>): nothing is decoded yet.
    /// <paramref name="what"/> names the file in messages ("The scribble").
    /// </summary>
    /// <exception cref="UserException">When the file is missing, not an image, or over the limits.</exception>
    public static SKCodec OpenChecked(string path, ImageLimits? limits = null, string what = "The file")
    {
        var codec = (File.Exists(path) ? SKCodec.Create(path) : null) ?? throw new UserException($"{what} '{path}' is not a readable image.");
        try
        {
            (limits ?? ImageLimits.Default).Check(path, codec.Info.Width, codec.Info.Height);
            return codec;
        }
        catch (InvalidDataException e)
        {
            codec.Dispose();
            throw new UserException($"{what}: {e.Message}", e);
        }
    }

    /// <summary>
    /// Reads an image file, centre-crops it to a square and resizes it to <paramref name="size"/>
    /// (high-quality filtering); returns [3, size, size] uint8. A file whose header declares a side over
    /// <paramref name="limits"/> is refused before it is decoded; <paramref name="what"/> names the file in messages.
    /// </summary>
    /// <exception cref="UserException">When the file is missing, not an image, or over the limits.</exception>
    public static Tensor LoadSquare(string path, int size, ImageLimits? limits = null, string what = "The file")
    {
        using var codec = OpenChecked(path, limits, what);
        using var decoded = SKBitmap.Decode(codec) ?? throw new UserException($"{what} '{path}' is not a readable image.");
        int side = Math.Min(decoded.Width, decoded.Height);
        var crop = new SKRectI((decoded.Width - side) / 2, (decoded.Height - side) / 2, (decoded.Width + side) / 2, (decoded.Height + side) / 2);
        var info = new SKImageInfo(size, size, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        using var target = new SKBitmap(info);
        using (var canvas = new SKCanvas(target))
        using (var image = SKImage.FromBitmap(decoded))
        {
            canvas.Clear(SKColors.Black);
            canvas.DrawImage(image, SKRect.Create(crop.Left, crop.Top, side, side), SKRect.Create(0, 0, size, size),
                side == size ? new SKSamplingOptions(SKFilterMode.Nearest) : new SKSamplingOptions(SKCubicResampler.Mitchell));
        }
        var bytes = new byte[size * size * 4];
        System.Runtime.InteropServices.Marshal.Copy(target.GetPixels(), bytes, 0, bytes.Length);
        using var rgba = tensor(bytes, [size, size, 4]);
        return rgba.narrow(2, 0, 3).permute(2, 0, 1).contiguous();
    }

    /// <summary>
    /// Decodes an image file given by the user to RGBA8 at its own size (row-major, top row first), after its
    /// header passed <paramref name="limits"/>. Throws a <see cref="UserException"/> naming <paramref name="what"/>
    /// ("The scribble") when it is missing, not an image or over the limits.
    /// </summary>
    public static (byte[] Rgba, int Width, int Height) ReadRgba8(string path, string what, ImageLimits? limits = null)
    {
        using var codec = OpenChecked(path, limits, what);
        var info = new SKImageInfo(codec.Info.Width, codec.Info.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        using var bitmap = SKBitmap.Decode(codec, info) ?? throw new UserException($"{what} '{path}' is not a readable image.");
        var bytes = new byte[bitmap.Width * bitmap.Height * 4];
        System.Runtime.InteropServices.Marshal.Copy(bitmap.GetPixels(), bytes, 0, bytes.Length);
        return (bytes, bitmap.Width, bitmap.Height);
    }
}
