using EDiffI.Networks;

namespace EDiffI.Plugins.UNet;

/// <summary>Builds and loads eDiff-I U-Nets ("ediffi-unet").</summary>
public sealed class UNetFamily : INetworkFamily
{
    /// <summary>The kind model folders name.</summary>
    public const string FamilyKind = "ediffi-unet";

    /// <inheritdoc />
    public string Kind => FamilyKind;

    /// <inheritdoc />
    public IReadOnlyList<string> Presets => UNetConfig.PresetNames;

    /// <inheritdoc />
    /// <remarks>64 px for every shape but "tiny" (16 px, for CPU tests).</remarks>
    public int DefaultResolution(string preset) => UNetConfig.Preset(preset).Resolution;

    /// <inheritdoc />
    public INetwork Create(string preset, int? resolution = null, int textDimension = 64) =>
        new EDiffIUNet(UNetConfig.Preset(preset, resolution, textDimension));

    /// <inheritdoc />
    public INetwork Create(string preset, int? resolution, ConditioningWidths widths) =>
        new EDiffIUNet(UNetConfig.Preset(preset, resolution) with
        {
            T5Dimension = widths.T5, ClipTextDimension = widths.ClipText, ClipPooledDimension = widths.ClipPooled,
            ClipImageDimension = widths.ClipImage, T5PooledDimension = widths.T5Pooled,
            Streams = widths.Streams?.Select(kv => new StreamSlotConfig(kv.Key, kv.Value.TokenWidth, kv.Value.PooledWidth, kv.Value.SpatialChannels)).ToArray() ?? [],
        });

    /// <inheritdoc />
    public INetwork FromConfig(string json) => new EDiffIUNet(UNetConfig.FromJson(json));

    /// <inheritdoc />
    public INetwork Load(string folder) => UNetFiles.Load(folder);

    /// <inheritdoc />
    public INetwork LoadWithSlots(string folder, IReadOnlyDictionary<string, Conditioning.ConditionerSlot> slots) =>
        UNetFiles.Load(folder, slots.Select(kv => new StreamSlotConfig(kv.Key, kv.Value.TokenWidth, kv.Value.PooledWidth, kv.Value.SpatialChannels)).ToList());
}
