using EDiffI.Networks;
using static TorchSharp.torch;

namespace EDiffI.Textures;

/// <summary>
/// Estimates a height map from an albedo: the first of the PBR maps (normals, occlusion and roughness follow from it).
/// A model folder ships one as its <c>height</c> entry (<see cref="HeightEstimatorSpec"/>); a plugin provides the kind.
/// </summary>
public interface IHeightEstimator : IDisposable
{
    /// <summary>The kind that built it (<see cref="IHeightEstimatorFactory.Kind"/>).</summary>
    string Kind { get; }

    /// <summary>
    /// The height map of the RGBA8 <paramref name="albedo"/> (<paramref name="width"/> × <paramref name="height"/>, row-major,
    /// top row first): one value per pixel in [0, 1], white high, stretched to the full range as <see cref="HeightMaps.Stretch"/>
    /// does. Height is relative (an albedo says nothing of absolute depth). Along the axes of <paramref name="tiling"/> the
    /// albedo is taken as periodic, and so is the result.
    /// </summary>
    /// <exception cref="ArgumentException">When the buffer does not hold <paramref name="width"/> × <paramref name="height"/> pixels, or the size is one the estimator cannot take.</exception>
    float[] Estimate(byte[] albedo, int width, int height, TileAxes tiling);
}

/// <summary>Loads height estimators of one kind; plugins register one per kind they provide.</summary>
public interface IHeightEstimatorFactory
{
    /// <summary>The kind it loads ("height-unet").</summary>
    string Kind { get; }

    /// <summary>Loads the estimator stored in <paramref name="folder"/> onto <paramref name="device"/>.</summary>
    /// <exception cref="FileNotFoundException">When a file of the estimator is missing.</exception>
    /// <exception cref="InvalidDataException">When a file is unreadable or its weights do not match its configuration.</exception>
    IHeightEstimator Load(string folder, Device device);
}

/// <summary>The height estimator of a model (the <c>height</c> entry of <c>model.json</c>).</summary>
public sealed record HeightEstimatorSpec
{
    /// <summary>The estimator kind, provided by a plugin.</summary>
    public string Kind { get; init; } = "height-unet";
    /// <summary>Its folder, relative to the model folder.</summary>
    public string Path { get; init; } = "height";
}

/// <summary>
/// The one definition of how relative heights are compared, shared by training, measurement and tests. An albedo fixes
/// height only up to an offset and a scale, so both maps are first standardised per image (zero mean, unit standard
/// deviation, <see cref="Standardise"/>); the height RMSE is the root-mean-square difference of the standardised maps,
/// which is <c>√(2(1 − r))</c> for their correlation r: 0 for a perfect estimate, √2 for an unrelated one, 2 for an inverted one.
/// </summary>
public static class HeightMaps
{
    /// <summary>Guards the division of a flat map: its standardised form is all zeros.</summary>
    public const double Epsilon = 1e-6;

    /// <summary>Per image zero mean and unit standard deviation over the last two dimensions of <paramref name="heights"/> ([…, H, W]).</summary>
    public static Tensor Standardise(Tensor heights)
    {
        using var scope = NewDisposeScope();
        var centred = heights - heights.mean([-2L, -1L], keepdim: true);
        var deviation = centred.square().mean([-2L, -1L], keepdim: true).sqrt();
        return (centred / (deviation + Epsilon)).MoveToOuterDisposeScope();
    }

    /// <summary>The height RMSE of <paramref name="estimate"/> against <paramref name="truth"/> (same length, any scale) after <see cref="Standardise"/>.</summary>
    public static double Rmse(float[] estimate, float[] truth)
    {
        if (estimate.Length != truth.Length || truth.Length == 0)
            throw new ArgumentException($"the height maps differ in size ({estimate.Length} and {truth.Length} values)");
        using var scope = NewDisposeScope();
        var a = Standardise(tensor(estimate, ScalarType.Float64).unsqueeze(0));
        var b = Standardise(tensor(truth, ScalarType.Float64).unsqueeze(0));
        return (a - b).square().mean().sqrt().item<double>();
    }

    /// <summary>Stretches heights to [0, 1] in place (the lowest to 0, the highest to 1); a flat map becomes 0.5.</summary>
    public static float[] Stretch(float[] heights)
    {
        float lo = float.MaxValue, hi = float.MinValue;
        foreach (float v in heights) { lo = Math.Min(lo, v); hi = Math.Max(hi, v); }
        for (int i = 0; i < heights.Length; i++) heights[i] = hi - lo < 1e-6f ? 0.5f : (heights[i] - lo) / (hi - lo);
        return heights;
    }

    /// <summary>
    /// Mean angle in degrees between the unit normals two encoded normal maps store (RGB in [0, 1], three per pixel,
    /// <see cref="NormalMaps.Decode"/>).
    /// </summary>
    public static double MeanAngleDegrees(float[] normals, float[] reference)
    {
        if (normals.Length != reference.Length || normals.Length == 0 || normals.Length % 3 != 0)
            throw new ArgumentException($"the normal maps differ in size or are not RGB ({normals.Length} and {reference.Length} values)");
        double sum = 0;
        for (int i = 0; i < normals.Length; i += 3)
        {
            var (ax, ay, az) = NormalMaps.Decode(normals[i], normals[i + 1], normals[i + 2]);
            var (bx, by, bz) = NormalMaps.Decode(reference[i], reference[i + 1], reference[i + 2]);
            sum += Math.Acos(Math.Clamp(ax * bx + ay * by + az * bz, -1.0, 1.0)) * 180 / Math.PI;
        }
        return sum / (normals.Length / 3);
    }
}
