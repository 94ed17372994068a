using System.ComponentModel;
using System.Diagnostics;
using EDiffI.Data;
using EDiffI.Host.Data;
using EDiffI.Host.Imaging;
using EDiffI.Host.Runtime;
using Spectre.Console;
using Spectre.Console.Cli;
using static TorchSharp.torch;

namespace EDiffI.Host.Commands;

/// <summary>Settings of <c>dataset</c>.</summary>
public sealed class DatasetSettings : CommandSettings
{
    [CommandOption("--source <SOURCE>")]
    [Description("a folder of captioned images, or scheme:argument such as world:train (see `plugins`)")]
    public string Source { get; init; } = "world:train";

    [CommandOption("--resolution <PX>")]
    public int Resolution { get; init; } = 64;

    [CommandOption("--count <N>")]
    [Description("images to write (with --out) or to draw (with --bench)")]
    public int Count { get; init; } = 16;

    [CommandOption("--out <FOLDER>")]
    [Description("write the images as PNG with a .txt caption beside each")]
    public string? Out { get; init; }

    [CommandOption("--captions <FILE>")]
    [Description("write only the captions of --count samples, one per line (a corpus for training tokenizers)")]
    public string? Captions { get; init; }

    [CommandOption("--bench")]
    [Description("measure how many images per second the source yields")]
    public bool Bench { get; init; }

    [CommandOption("--floor <IMAGES_PER_S>")]
    [Description("with --bench: the images per second to reach, else exit code 1 (default for world: at 64 px: 2000, the Release-build target of docs/world.md; else none; 0 = no check)")]
    public double? Floor { get; init; }

    [CommandOption("--seed <SEED>")]
    public long Seed { get; init; } = 1;
}

/// <summary><c>dataset</c>: look at a training source (write samples) or measure its throughput.</summary>
public sealed class DatasetCommand(IEnumerable<IDatasetSourceFactory> factories) : Command<DatasetSettings>
{
    /// <summary>Images per second a Release build must draw from <c>world:</c> at 64×64 on the 2-core build machine (docs/world.md).</summary>
    public const double ThroughputFloor = 2000;

    /// <inheritdoc />
    public override int Execute(CommandContext context, DatasetSettings s, CancellationToken cancellationToken)
    {
        if (s.Count < 1) throw new UserException("--count must be at least 1.");
        if (s.Floor is { } f && !(f >= 0)) throw new UserException($"--floor must be 0 or more images per second (got {f}).");
        double floor = s.Floor ?? (s.Source.StartsWith("world:", StringComparison.OrdinalIgnoreCase) && s.Resolution == 64 ? ThroughputFloor : 0);
        int exitCode = 0;
        if (s.Out is null && !s.Bench && s.Captions is null)
            throw new UserException("Pass --out <folder> to write samples, --captions <file> to write a caption corpus, or --bench to measure throughput.");
        var source = DatasetSources.Open(s.Source, s.Resolution, factories);
        using var generator = new Generator((ulong)s.Seed);
        if (s.Bench)
        {
            const int batch = 64;
            source.NextBatch(batch, generator).Dispose(); // warm-up
            var clock = Stopwatch.StartNew();
            int done = 0;
            while (done < s.Count)
            {
                using var b = source.NextBatch(batch, generator);
                done += batch;
            }
            double rate = done / clock.Elapsed.TotalSeconds;
            Console.WriteLine($"{s.Source}: {rate:0} images/s at {s.Resolution}×{s.Resolution} ({done} images, {Environment.ProcessorCount} cores)");
            if (floor > 0)
            {
                bool met = rate >= floor;
                Console.WriteLine($"floor {floor:0} images/s: {(met ? "met" : "NOT met")}{(IsDebugBuild ? " (a Debug build; the floor is for Release: dotnet run -c Release)" : "")}");
                if (!met) exitCode = 1;
            }
        }
        if (s.Out is not null)
        {
            using var b = source.NextBatch(s.Count, generator);
            Directory.CreateDirectory(s.Out);
            for (int i = 0; i < s.Count; i++)
            {
                string stem = Path.Combine(s.Out, $"{i:D4}");
                using var image = b.Images[i];
                ImageFiles.SavePng(image, stem + ".png");
                File.WriteAllText(stem + ".txt", b.Captions[i] + "\n");
            }
            AnsiConsole.MarkupLineInterpolated($"wrote {s.Count} images with captions to [green]{s.Out}[/]");
        }
        if (s.Captions is not null)
        {
            string? dir = Path.GetDirectoryName(Path.GetFullPath(s.Captions));
            if (dir is not null) Directory.CreateDirectory(dir);
            using var writer = new StreamWriter(s.Captions);
            for (int done = 0; done < s.Count;)
            {
                using var b = source.NextBatch(Math.Min(256, s.Count - done), generator);
                foreach (var caption in b.Captions) writer.WriteLine(caption.ReplaceLineEndings(" "));
                done += b.Captions.Count;
            }
            AnsiConsole.MarkupLineInterpolated($"wrote {s.Count} captions to [green]{s.Captions}[/]");
        }
        (source as IDisposable)?.Dispose();
        return exitCode;
    }

#if DEBUG
    private const bool IsDebugBuild = true;
#else
    private const bool IsDebugBuild = false;
#endif
}
