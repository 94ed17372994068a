using System.ComponentModel;
using EDiffI.Encoders;
using EDiffI.Host.Data;
using EDiffI.Host.Pipeline;
using EDiffI.Host.Runtime;
using Spectre.Console;
using Spectre.Console.Cli;

namespace EDiffI.Host.Commands;

/// <summary>Settings of <c>encode</c>.</summary>
public sealed class EncodeSettings : DeviceSettings
{
    [CommandOption("--data <SOURCE>")]
    [Description("folder of captioned images, or a plugin's source such as world:train")]
    public string Data { get; init; } = "";

    [CommandOption("--count <N>")]
    [Description("examples to encode (default: the whole folder; required for unlimited sources)")]
    public long? Count { get; init; }

    [CommandOption("--resolution <PX>")]
    public int Resolution { get; init; } = 64;

    [CommandOption("--t5 <FOLDER>")]
    [Description("T5 encoder checkpoint folder (Hugging Face layout)")]
    public string? T5 { get; init; }

    [CommandOption("--clip <FOLDER>")]
    [Description("CLIP checkpoint folder (Hugging Face layout): the text stream and the image embedding")]
    public string? Clip { get; init; }

    [CommandOption("--shard <N>")]
    [Description("examples per shard file")]
    public int Shard { get; init; } = 4096;

    [CommandOption("--seed <SEED>")]
    public long Seed { get; init; } = 1;

    [CommandOption("--out <FOLDER>")]
    [Description("cache folder; train reads it as --data cache:<folder>")]
    public string Out { get; init; } = "";
}

/// <summary><c>encode</c>: precompute the T5, CLIP text and CLIP image embeddings of a data set into sharded files.</summary>
public sealed class EncodeCommand(ModelCatalog catalog, IEnumerable<EDiffI.Data.IDatasetSourceFactory> sources) : Command<EncodeSettings>
{
    /// <inheritdoc />
    public override int Execute(CommandContext context, EncodeSettings s, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(s.Data)) throw new UserException("--data <source> is required.");
        if (string.IsNullOrEmpty(s.Out)) throw new UserException("--out <folder> is required.");
        if (s.T5 is null && s.Clip is null) throw new UserException("Name at least one encoder: --t5 <folder> and/or --clip <folder>.");
        if (s.Shard < 1) throw new UserException("--shard must be at least 1.");
        s.ApplyRuntime();
        var device = TorchRuntime.ParseDevice(s.Device);
        var data = DatasetSources.Open(s.Data, s.Resolution, sources);
        using var disposeData = data as IDisposable;
        long count = s.Count ?? data.Count ?? throw new UserException($"'{s.Data}' is unlimited; pass --count <N>.");
        if (count < 1) throw new UserException("--count must be at least 1.");
        // The kinds that claim each stream read the folders, as train's --t5 and --clip do.
        TextEncoderSpec? t5Spec = s.T5 is null ? null : catalog.CheckpointSpec(TextStream.T5, s.T5, "--t5");
        TextEncoderSpec? clipSpec = s.Clip is null ? null : catalog.CheckpointSpec(TextStream.Clip, s.Clip, "--clip");
        ImageEncoderSpec? imageSpec = clipSpec is null ? null : catalog.CompanionImageSpec(clipSpec);
        using var t5 = t5Spec is null ? null : catalog.CreateEncoder(t5Spec, null);
        using var clip = clipSpec is null ? null : catalog.CreateEncoder(clipSpec, null);
        using var image = imageSpec is null ? null : catalog.CreateImageEncoder(imageSpec, null);
        t5?.MoveTo(device);
        clip?.MoveTo(device);
        image?.MoveTo(device);
        var index = EmbeddingCache.Write(s.Out, s.Data, data, count, s.Shard, s.Seed, t5, t5Spec, clip, clipSpec, image, imageSpec, device,
            done => Console.WriteLine($"encoded {done}/{count}"));
        AnsiConsole.MarkupLineInterpolated($"wrote {index.Count} examples in {index.Shards.Count} shards to [green]{s.Out}[/]; train with --data cache:{s.Out}");
        return 0;
    }
}
