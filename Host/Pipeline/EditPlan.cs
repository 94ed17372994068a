using EDiffI.Host.Imaging;
using EDiffI.Networks;
using static TorchSharp.torch;

namespace EDiffI.Host.Pipeline;

/// <summary>
/// Where a request's init image enters the cascade and what each stage does with it:
/// <list type="bullet">
/// <item>img2img (an init, no mask): the stage whose output is the init's size starts from it by SDEdit; the stages below
/// it do not run (its low-resolution input is the init, downsampled); the stages above run as usual. An init of another
/// size enters at the largest stage not above it (resized to that stage, with a note). At 256 and 1024 the stage's
/// low-resolution input is the init's own, so even strength 1 keeps its layout; at the base's size strength 1 ignores it.</item>
/// <item>inpainting (an init and a mask) and make-tileable (a mask around the wrap seams): every stage from the base
/// keeps the unmasked region of the init resized to its own size, and the output keeps it exactly.</item>
/// </list>
/// </summary>
internal sealed class EditPlan
{
    private readonly Tensor? _init;   // [1, 3, S, S] at the output size (inpainting) or the start size (img2img)
    private readonly Tensor? _mask;   // [1, 1, S, S], 1 = regenerate

    private readonly int _resample, _jumpLength;

    private EditPlan(int startSize, Tensor? init, Tensor? mask, double strength, string? name, int resample = 1, int jumpLength = 0)
    {
        _resample = resample;
        _jumpLength = jumpLength;
        StartSize = startSize;
        _init = init;
        _mask = mask;
        Strength = strength;
        Name = name;
    }

    /// <summary>The resolution of the first stage that runs (the base's without an init).</summary>
    public int StartSize { get; }

    /// <summary>The strength of the start stage's SDEdit (1 for inpainting's base, which starts from noise unless told).</summary>
    public double Strength { get; }

    /// <summary>What is done: "img2img@64", "inpaint", "make-tileable"; null without an init.</summary>
    public string? Name { get; }

    /// <summary>Half the width of make-tileable's band, as a fraction of the side: the band is 1/8 of the side across each seam.</summary>
    public const double SeamBand = 1.0 / 16;

    /// <summary>The plan of <paramref name="request"/> for an output of <paramref name="size"/> among <paramref name="sizes"/>.</summary>
    public static EditPlan Of(GenerationRequest request, int size, IReadOnlyList<int> sizes, TileAxes tiling, Action<string> note)
    {
        if (request.Init is not { } image) return new EditPlan(sizes[0], null, null, 1, null);
        using var init = ImageFiles.FromRgba8(image.Rgba, image.Width, image.Height).unsqueeze(0);
        if (request.Mask is null && !request.MakeTileable)
        {
            int start = sizes.Where(s => s <= Math.Min(image.Width, size)).DefaultIfEmpty(sizes[0]).Max();
            if (start != image.Width)
                note($"note: the {image.Width}×{image.Width} init image was resized to {start}×{start}, the cascade stage it enters at.");
            return new EditPlan(start, StageEdit.Resize(init, start), null, request.Strength ?? 0.6, $"img2img@{start}");
        }
        if (image.Width != size) note($"note: the {image.Width}×{image.Width} init image and its mask were resized to the output's {size}×{size}.");
        var full = StageEdit.Resize(init, size);
        Tensor mask;
        if (request.Mask is { } m)
        {
            using var rgb = ImageFiles.FromRgba8(m.Rgba, m.Width, m.Height).unsqueeze(0);
            using var grey = ((rgb + 1) / 2).mean([1], keepdim: true);
            mask = StageEdit.Resize(grey, size).clamp(0, 1);
        }
        else mask = SeamMask(size, tiling);
        return new EditPlan(sizes[0], full, mask, request.Strength ?? 1, request.MakeTileable ? "make-tileable" : "inpaint", request.Resample, request.JumpLength);
    }

    /// <summary>A mask of the band around the wrap seams of the wrapping axes: 1 within side/16 of an edge along them.</summary>
    public static Tensor SeamMask(int side, TileAxes axes)
    {
        using var scope = NewDisposeScope();
        long band = Math.Max(1, (long)Math.Round(side * SeamBand));
        var i = arange(side, dtype: ScalarType.Float32);
        var nearEdge = ((i < band) | (i >= side - band)).to(ScalarType.Float32);
        var cols = axes.HasFlag(TileAxes.X) ? nearEdge.view(1, side) : zeros(1, side);
        var rows = axes.HasFlag(TileAxes.Y) ? nearEdge.view(side, 1) : zeros(side, 1);
        return maximum(cols.expand(side, side), rows.expand(side, side)).view(1, 1, side, side).MoveToOuterDisposeScope();
    }

    /// <summary>The edit of the stage drawing <paramref name="resolution"/>, for a batch of <paramref name="batch"/>; null when it has none.</summary>
    public StageEdit? At(int resolution, int batch)
    {
        if (_init is null) return null;
        if (_mask is null)
            return resolution == StartSize ? new StageEdit(Repeat(StageEdit.Resize(_init, resolution), batch), null, Strength) : null;
        var mask = StageEdit.Resize(_mask, resolution);
        return new StageEdit(Repeat(StageEdit.Resize(_init, resolution), batch), Repeat(mask, batch),
            resolution == StartSize ? Strength : 1) { Resample = _resample, JumpLength = _jumpLength };
    }

    /// <summary>The low-resolution input of the start stage: the init downsampled to <paramref name="resolution"/>.</summary>
    public Tensor LowInputOf(int resolution, int batch) => Repeat(StageEdit.Resize(_init!, resolution), batch).to(ScalarType.Float32).cpu();

    private static Tensor Repeat(Tensor x, int batch) => x.shape[0] == batch ? x : x.expand(batch, -1, -1, -1).contiguous();
}
