namespace EDiffI.IO;

/// <summary>
/// The largest image file the framework decodes (configuration section <c>Images</c>, for example
/// <c>--set Images:MaxSide=8192</c>). A file's size is read from its header (SkiaSharp's
/// <c>SKCodec.Info</c>) and checked here before any pixel is decoded, so a small file that declares a
/// huge image cannot take gigabytes of memory.
/// </summary>
public sealed class ImageLimits
{
    /// <summary>Name of the configuration section.</summary>
    public const string Section = "Images";

    /// <summary>The default largest side, the bridge's <c>MaxResolution</c>.</summary>
    public const int DefaultMaxSide = 4096;

    /// <summary>Largest width or height of an image file read from disk.</summary>
    public int MaxSide { get; set; } = DefaultMaxSide;

    /// <summary>The limits with their defaults.</summary>
    public static ImageLimits Default { get; } = new();

    /// <summary>
    /// Refuses an image whose header declares <paramref name="width"/> × <paramref name="height"/> pixels
    /// when either side is over <see cref="MaxSide"/> (or not positive); call it before decoding.
    /// </summary>
    /// <exception cref="InvalidDataException">Naming the file, the size it declares and the limit.</exception>
    public void Check(string path, int width, int height)
    {
        if (width <= 0 || height <= 0)
            throw new InvalidDataException($"'{path}' declares an image of {width}×{height} pixels; it was not decoded.");
        if (width > MaxSide || height > MaxSide)
            throw new InvalidDataException($"'{path}' declares an image of {width}×{height} pixels, over the limit of {MaxSide} a side; " +
                                           $"it was not decoded (--set {Section}:{nameof(MaxSide)}=N raises the limit).");
    }
}
