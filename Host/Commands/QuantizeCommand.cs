using System.ComponentModel;
using EDiffI.Host.Pipeline;
using EDiffI.Host.Runtime;
using Spectre.Console;
using Spectre.Console.Cli;

namespace EDiffI.Host.Commands;

/// <summary><c>quantize</c>: a copy of a model folder with its weights stored in 8 bits (about half the size on disk).</summary>
public sealed class QuantizeCommand : Command<QuantizeCommand.Settings>
{
    /// <summary>Settings of <c>quantize</c>.</summary>
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--model <FOLDER>")]
        [Description("the model folder to copy (default models/default)")]
        public string Model { get; init; } = Path.Combine("models", "default");

        [CommandOption("--out <FOLDER>")]
        [Description("where the 8-bit copy goes: a new or empty folder outside --model")]
        public string Out { get; init; } = "";
    }

    /// <inheritdoc />
    public override int Execute(CommandContext context, Settings s, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(s.Out)) throw new UserException("--out <folder> is required: the 8-bit copy goes there and --model stays as it is.");
        IReadOnlyList<QuantizedFile> files;
        try
        {
            files = ModelQuantizer.Quantize(s.Model, s.Out, f => AnsiConsole.MarkupLineInterpolated(
                $"{f.File}: {f.BytesBefore / 1e6:F2} MB → {f.BytesAfter / 1e6:F2} MB, {f.Quantized} tensors in 8 bits, {f.Kept} kept, worst relative error {f.WorstRelativeError:P2} (‖w − ŵ‖/‖w‖)"));
        }
        catch (Exception e) when (e is ArgumentException or InvalidDataException)
        {
            throw new UserException(e.Message, e);
        }
        long before = files.Sum(f => f.BytesBefore), after = files.Sum(f => f.BytesAfter);
        AnsiConsole.MarkupLineInterpolated($"wrote [green]{s.Out}[/]: weights {before / 1e6:F1} MB → {after / 1e6:F1} MB; load it with --model {s.Out}");
        return 0;
    }
}
