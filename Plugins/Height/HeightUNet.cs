using System.Text.Json;
using EDiffI.IO;
using EDiffI.Networks;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace EDiffI.Plugins.Height;

/// <summary>
/// <c>height.json</c>: the shape of a height U-Net and the resolution it works at.
/// </summary>
public sealed record HeightUNetConfig
{
    /// <summary>File name inside the estimator's folder.</summary>
    public const string FileName = "height.json";

    /// <summary>Name of the weights file beside it.</summary>
    public const string WeightsFileName = "height.safetensors";

    /// <summary>Format marker.</summary>
    public string Format { get; init; } = "ediffi-height/1";

    /// <summary>Channels of each level, finest first; every level after the first halves the resolution.</summary>
    public int[] Channels { get; init; } = [16, 32, 64, 64];

    /// <summary>
    /// Side the network was trained at: a larger albedo whose side is a whole multiple of it is area-averaged down to it,
    /// estimated, and the height resampled back up (so an element keeps the size in pixels the network learnt it at).
    /// </summary>
    public int WorkingSize { get; init; } = 128;

    /// <summary>Training steps the weights have seen.</summary>
    public long TrainedSteps { get; init; }

    /// <summary>How the file keeps its version.</summary>
    public static JsonFileKind Kind { get; } = new("height network configuration", "format", 1, "ediffi-height/");

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase, RespectNullableAnnotations = true,
    };

    /// <summary>The side every input must be a multiple of: one factor of two per downsampling.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public int Multiple => 1 << (Channels.Length - 1);

    /// <summary>Refuses a shape the network cannot be built with.</summary>
    /// <exception cref="InvalidDataException">Naming what is wrong.</exception>
    public void Check(string source)
    {
        if (Channels.Length is < 1 or > 6 || Channels.Any(c => c is < 1 or > 1024))
            throw new InvalidDataException($"'{source}': channels must be 1 to 6 levels of 1 to 1024 channels (got [{string.Join(", ", Channels)}]).");
        if (WorkingSize < Multiple || WorkingSize % Multiple != 0)
            throw new InvalidDataException($"'{source}': workingSize {WorkingSize} must be a positive multiple of {Multiple}.");
    }

    /// <summary>Reads and checks <c>height.json</c> in <paramref name="folder"/>.</summary>
    public static HeightUNetConfig Load(string folder)
    {
        string path = Path.Combine(folder, FileName);
        var config = JsonFiles.Read<HeightUNetConfig>(path, Kind, Json);
        config.Check(path);
        return config;
    }

    /// <summary>Writes <c>height.json</c> into <paramref name="folder"/>.</summary>
    public void Save(string folder) =>
        SafeTensorsWeights.WriteAtomically(Path.Combine(folder, FileName), s => JsonSerializer.Serialize(s, this, Json));
}

/// <summary>
/// A small fully convolutional U-Net from albedo to height: two 3×3 convolutions with SiLU per level, 2×2 average
/// pooling down, nearest upsampling and a skip concatenation up, a 1×1 head. Every convolution pads circularly along
/// the axes that wrap and with zeros along the others, so a periodic albedo gives a periodic height. The input is
/// standardised per image (zero mean per channel, unit overall deviation): height depends on the pattern, not on the
/// palette's brightness.
/// </summary>
public sealed class HeightUNet : nn.Module<Tensor, Tensor>
{
    private readonly ModuleList<Block> down = new();
    private readonly ModuleList<Block> up = new();
    private readonly Conv2d head;

    /// <summary>Its shape.</summary>
    public HeightUNetConfig Config { get; }

    /// <summary>The axes the next <see cref="forward"/> wraps (set by <see cref="Heights"/>).</summary>
    private TileAxes _axes;

    /// <summary>Builds the network of <paramref name="config"/> with fresh weights.</summary>
    public HeightUNet(HeightUNetConfig config) : base("height_unet")
    {
        config.Check(HeightUNetConfig.FileName);
        Config = config;
        var c = config.Channels;
        for (int i = 0; i < c.Length; i++) down.Add(new Block($"down{i}", i == 0 ? 3 : c[i - 1], c[i]));
        for (int i = c.Length - 2; i >= 0; i--) up.Add(new Block($"up{i}", c[i + 1] + c[i], c[i]));
        head = nn.Conv2d(c[0], 1, 1);
        RegisterComponents();
    }

    /// <summary>Number of trainable values.</summary>
    public long ParameterCount => parameters().Sum(p => p.numel());

    /// <summary>
    /// Heights [B, 1, H, W] (unnormalised: compare them through <see cref="Textures.HeightMaps.Standardise"/>) of albedos
    /// [B, 3, H, W] in [−1, 1], H and W multiples of <see cref="HeightUNetConfig.Multiple"/>; <paramref name="axes"/> wrap.
    /// </summary>
    public Tensor Heights(Tensor albedo, TileAxes axes)
    {
        _axes = axes;
        return forward(albedo);
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor albedo)
    {
        long h = albedo.shape[^2], w = albedo.shape[^1];
        int multiple = Config.Multiple;
        if (albedo.dim() != 4 || albedo.shape[1] != 3 || h % multiple != 0 || w % multiple != 0)
            throw new ArgumentException($"the height network takes [B, 3, H, W] with H and W multiples of {multiple}, got [{string.Join(", ", albedo.shape)}]");
        using var scope = NewDisposeScope();
        var centred = albedo - albedo.mean([-2L, -1L], keepdim: true);
        var x = centred / (centred.square().mean([1L, 2L, 3L], keepdim: true).sqrt() + 0.05);
        var skips = new List<Tensor>();
        for (int i = 0; i < down.Count; i++)
        {
            if (i > 0) x = F.avg_pool2d(x, 2);
            x = down[i].Apply(x, _axes);
            skips.Add(x);
        }
        for (int i = 0; i < up.Count; i++)
        {
            var skip = skips[skips.Count - 2 - i];
            x = F.interpolate(x, [skip.shape[2], skip.shape[3]], mode: InterpolationMode.Nearest);
            x = up[i].Apply(cat([x, skip], 1), _axes);
        }
        return head.forward(x).MoveToOuterDisposeScope();
    }

    /// <summary>Two 3×3 convolutions, each followed by SiLU.</summary>
    private sealed class Block : nn.Module<Tensor, Tensor>
    {
        private readonly Conv2d conv1;
        private readonly Conv2d conv2;

        public Block(string name, long inChannels, long outChannels) : base(name)
        {
            conv1 = nn.Conv2d(inChannels, outChannels, 3);
            conv2 = nn.Conv2d(outChannels, outChannels, 3);
            RegisterComponents();
        }

        public Tensor Apply(Tensor x, TileAxes axes)
        {
            using var scope = NewDisposeScope();
            var y = F.silu(conv1.forward(Tiling.Pad(x, 1, axes)));
            return F.silu(conv2.forward(Tiling.Pad(y, 1, axes))).MoveToOuterDisposeScope();
        }

        public override Tensor forward(Tensor x) => Apply(x, TileAxes.None);
    }
}
