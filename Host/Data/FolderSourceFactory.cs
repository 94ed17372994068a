using EDiffI.Data;

namespace EDiffI.Host.Data;

/// <summary>"folder:&lt;path&gt;", or a plain path: a folder of images, each with a caption file beside it.</summary>
public sealed class FolderSourceFactory : IDatasetSourceFactory
{
    /// <summary>The scheme it answers to; a name without a scheme is a folder too.</summary>
    public const string FolderScheme = "folder";

    /// <inheritdoc />
    public string Scheme => FolderScheme;

    /// <inheritdoc />
    public string Usage => "folder:<path>, or the path alone: images (.png, .jpg, .jpeg, .webp, .bmp), each with a .txt caption beside it";

    /// <inheritdoc />
    public IDatasetSource Create(string argument, int resolution) => new ImageFolderDataset(argument, resolution);
}
