using EDiffI.Data;
using EDiffI.Host.Imaging;
using EDiffI.Host.Runtime;
using static TorchSharp.torch;

namespace EDiffI.Host.Data;

/// <summary>
/// A folder of images, each with a caption file beside it (<c>cat.png</c> and <c>cat.txt</c>).
/// Images are centre-cropped, resized to the model's resolution and held in memory as bytes.
/// </summary>
public sealed class ImageFolderDataset : IDatasetSource, IDisposable
{
    private static readonly string[] Extensions = [".png", ".jpg", ".jpeg", ".webp", ".bmp"];
    private readonly Tensor _images; // [N, 3, R, R] uint8
    private readonly string[] _captions;

    /// <inheritdoc />
    public int Resolution { get; }
    /// <inheritdoc />
    public long? Count => _captions.Length;

    /// <summary>Reads every captioned image of <paramref name="folder"/>.</summary>
    public ImageFolderDataset(string folder, int resolution)
    {
        if (!Directory.Exists(folder)) throw new UserException($"The data folder '{folder}' does not exist.");
        var files = Directory.EnumerateFiles(folder)
            .Where(f => Extensions.Contains(Path.GetExtension(f).ToLowerInvariant()))
            .Order(StringComparer.Ordinal).ToList();
        var withCaption = files.Where(f => File.Exists(Path.ChangeExtension(f, ".txt"))).ToList();
        if (withCaption.Count == 0)
            throw new UserException(files.Count == 0
                ? $"'{folder}' holds no images ({string.Join(", ", Extensions)})."
                : $"None of the {files.Count} images in '{folder}' has a caption file beside it (same name, .txt).");
        Resolution = resolution;
        var tensors = withCaption.Select(f => ImageFiles.LoadSquare(f, resolution)).ToList();
        _images = stack(tensors).DetachFromDisposeScope();
        foreach (var t in tensors) t.Dispose();
        _captions = withCaption.Select(f => File.ReadAllText(Path.ChangeExtension(f, ".txt")).Trim()).ToArray();
        Skipped = files.Count - withCaption.Count;
    }

    /// <summary>Images left out because they had no caption file.</summary>
    public int Skipped { get; }

    /// <inheritdoc />
    public TrainingBatch NextBatch(int batchSize, Generator generator)
    {
        using var scope = NewDisposeScope();
        var index = randint(0, _captions.Length, [batchSize], dtype: ScalarType.Int64, generator: generator);
        var images = _images.index_select(0, index).to(ScalarType.Float32) / 127.5 - 1;
        var captions = index.data<long>().Select(i => _captions[i]).ToList();
        return new TrainingBatch(images.MoveToOuterDisposeScope(), captions);
    }

    /// <inheritdoc />
    public void Dispose() => _images.Dispose();
}
