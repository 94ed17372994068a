using EDiffI.Attention;
using EDiffI.Conditioning;
using EDiffI.Host.Imaging;
using EDiffI.Host.Runtime;
using static TorchSharp.torch;

namespace EDiffI.Host.Pipeline.Conditioners;

/// <summary>
/// Paint-with-words (eDiff-I, Section 4.3) on the conditioner contract: the input is a colour-coded scribble
/// (its image), the legend tying colours to phrases of the prompt (its text, JSON as <c>--legend</c> reads)
/// and w′ (its weight); the output is the painter plugin's cross-attention processor with the regions as its
/// typed extra. w′ = 0 draws exactly as without painting.
/// </summary>
public sealed class PaintConditioner(IEnumerable<IPaintWithWords> painters) : IConditioner
{
    /// <summary>The name requests use.</summary>
    public const string ConditionerName = "paint";

    /// <summary>w′ of a request (or legend entry) that gives none.</summary>
    public const double DefaultWeight = 0.4;

    private readonly IPaintWithWords? _painter = painters.FirstOrDefault();

    /// <inheritdoc />
    public string Name => ConditionerName;

    /// <inheritdoc />
    public string InputHelp => "a scribble (CLI: --paint FILE), its legend (--legend FILE) and w' (--paint-weight, default 0.4)";

    /// <inheritdoc />
    public ConditionerSlot Slot => ConditionerSlot.None;

    /// <inheritdoc />
    public string? Unavailable(ConditionerModel model) =>
        _painter is null ? "no plugin provides paint-with-words (the PaintWithWords plugin is missing or faulted; `plugins` lists them)"
        : !model.HasCrossAttention ? "its network has no cross-attention layers, so it cannot paint with words" : null;

    /// <inheritdoc />
    public void Check(ConditionerInput input, string prompt, ConditionerModel model)
    {
        if (input.Image is not { } scribble || string.IsNullOrWhiteSpace(input.Text))
            throw new ArgumentException("Paint-with-words needs both a scribble and a legend naming a phrase for each colour.");
        scribble.CheckWellFormed("The scribble");
        var legend = Scribble.ParseLegend(input.Text, "The legend", out _);
        // Each phrase must be in the prompt: probed with empty masks, before any slow work.
        using var scope = NewDisposeScope();
        var probe = legend.Values.Select(phrase => new PaintRegion(phrase, zeros(1, 1))).ToList();
        Painter(model).Attach(new ConditioningInputs(), new PaintRequest(prompt, probe, 0), model.TextEncoders).DisposeExtras();
    }

    /// <inheritdoc />
    public ConditionerOutput Condition(ConditionerInput input, ConditionerContext context)
    {
        // The phrase probe of Check is not repeated: Attach below refuses a phrase missing from the prompt itself.
        if (input.Image is not { } image || string.IsNullOrWhiteSpace(input.Text))
            throw new ArgumentException("Paint-with-words needs both a scribble and a legend naming a phrase for each colour.");
        image.CheckWellFormed("The scribble");
        var painter = Painter(context.Model);
        var legend = Scribble.ParseLegend(input.Text!, "The legend", out var weights);
        var scribble = image;
        var regions = Scribble.Regions(scribble.Rgba, scribble.Width, scribble.Height, legend, context.Model.Resolution, context.Note, weights: weights);
        double weight = input.Weight ?? DefaultWeight;
        try
        {
            var attached = painter.Attach(new ConditioningInputs(), new PaintRequest(context.Prompt, regions, weight), context.Model.TextEncoders);
            return new ConditionerOutput(Extras: attached.Extensions, Processor: painter.ProcessorFor,
                Used: new Dictionary<string, double> { ["weight"] = weight, ["regions"] = regions.Count });
        }
        finally
        {
            foreach (var region in regions) region.Mask.Dispose();
        }
    }

    private IPaintWithWords Painter(ConditionerModel model) =>
        Unavailable(model) is { } reason ? throw new UserException($"Paint-with-words is unavailable: {reason}.") : _painter!;
}
