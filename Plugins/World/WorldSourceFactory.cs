using EDiffI.Data;

namespace EDiffI.Plugins.World;

/// <summary>"world:train", "world:heldout", optionally with ",short" or ",long" captions.</summary>
public sealed class WorldSourceFactory : IDatasetSourceFactory
{
    /// <inheritdoc />
    public string Scheme => "world";

    /// <inheritdoc />
    public string Usage => "world:train or world:heldout, optionally followed by ,short / ,long / ,mixed captions";

    /// <inheritdoc />
    public IDatasetSource Create(string argument, int resolution)
    {
        var (split, style) = Parse(argument);
        return new ProceduralWorld(resolution, split, style);
    }

    /// <inheritdoc />
    public IDatasetSource? CreatePaired(string argument, int resolution, int lowResolution, int crop)
    {
        var (split, style) = Parse(argument);
        return new ProceduralWorld(resolution, split, style, new WorldCrops(lowResolution, crop));
    }

    private (WorldSplit, CaptionStyle) Parse(string argument)
    {
        var parts = argument.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        var split = parts.Length == 0 || parts[0] == "train" ? WorldSplit.Train
            : parts[0] is "heldout" or "held-out" ? WorldSplit.HeldOut
            : throw new ArgumentException($"unknown world split '{parts[0]}' ({Usage})");
        var style = parts.Length < 2 ? CaptionStyle.Mixed
            : Enum.TryParse<CaptionStyle>(parts[1], ignoreCase: true, out var c) ? c
            : throw new ArgumentException($"unknown caption style '{parts[1]}' ({Usage})");
        return (split, style);
    }
}
