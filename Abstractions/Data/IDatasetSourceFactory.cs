namespace EDiffI.Data;

/// <summary>
/// Builds dataset sources named on the command line as <c>scheme:argument</c> (for example
/// <c>world:train</c>); the host looks every source up by its scheme. Plugins register one per scheme;
/// the host registers its own "folder:" (also used for a name without a scheme) and "cache:".
/// </summary>
public interface IDatasetSourceFactory
{
    /// <summary>The scheme it answers to.</summary>
    string Scheme { get; }

    /// <summary>What the argument may be, for help and error messages.</summary>
    string Usage { get; }

    /// <summary>A source of <paramref name="resolution"/>-pixel images for <paramref name="argument"/>.</summary>
    /// <exception cref="ArgumentException">For an argument it does not understand.</exception>
    IDatasetSource Create(string argument, int resolution);

    /// <summary>
    /// A source for a super-resolution stage: <paramref name="crop"/>-pixel random crops of <paramref name="resolution"/>-pixel
    /// images, with the same crops drawn at <paramref name="lowResolution"/> in <see cref="TrainingBatch.LowResolution"/>
    /// where the source can draw a scene at several sizes; null when it cannot (the host then crops
    /// <see cref="Create"/>'s images and the stage downsamples them).
    /// </summary>
    /// <exception cref="ArgumentException">For an argument it does not understand.</exception>
    IDatasetSource? CreatePaired(string argument, int resolution, int lowResolution, int crop) => null;
}
