using static TorchSharp.torch;

namespace EDiffI.Plugins.World;

/// <summary>A region a phrase of the prompt was painted into: the colour the phrase names, its pixels and its grid cells.</summary>
/// <param name="Color">Index into <see cref="Palette.Colors"/> of the phrase's object.</param>
/// <param name="Mask">The painted pixels, row-major at the image's resolution.</param>
/// <param name="Cells">The cells of the 3×3 grid the region's objects sit in.</param>
public sealed record PaintedRegion(int Color, bool[] Mask, IReadOnlyList<int> Cells);

/// <summary>How well one painted region was followed.</summary>
/// <param name="PixelIoU">IoU of the region and the pixels whose nearest palette colour is the phrase's colour.</param>
/// <param name="CellIoU">IoU of the region's cells and the cells where the judge finds an object of the phrase's colour.</param>
/// <param name="CellHit">Share of the region's cells where the judge finds an object of the phrase's colour.</param>
public readonly record struct RegionScore(double PixelIoU, double CellIoU, double CellHit);

/// <summary>
/// Measurements of the two controls beyond the prompt: where painted phrases land (paint-with-words)
/// and how close an image's palette and texture come to a style reference.
/// </summary>
public static class ControlMetrics
{
    /// <summary>The nearest palette colour of every pixel: images [B, 3, H, W] in [−1, 1] → [B, H, W] indices.</summary>
    public static Tensor PaletteIndices(Tensor images)
    {
        using var scope = NewDisposeScope();
        var rgb = Palette.Colors.SelectMany(c => new[] { c.R / 127.5f - 1, c.G / 127.5f - 1, c.B / 127.5f - 1 }).ToArray();
        var palette = tensor(rgb, [Palette.Colors.Count, 3]).to(images.device);
        var pixels = images.to(ScalarType.Float32).permute(0, 2, 3, 1).unsqueeze(3); // [B, H, W, 1, 3]
        return (pixels - palette).square().sum(-1).argmin(-1).MoveToOuterDisposeScope();
    }

    /// <summary>The palette histogram of each image, [B, 12]: the share of pixels nearest to each colour.</summary>
    public static Tensor PaletteHistogram(Tensor images)
    {
        using var scope = NewDisposeScope();
        var histogram = nn.functional.one_hot(PaletteIndices(images), Palette.Colors.Count).to(ScalarType.Float32).mean([1, 2]);
        return histogram.MoveToOuterDisposeScope();
    }

    /// <summary>Palette distance of image pairs, [B]: total variation between palette histograms, 0 (same palette) to 1 (disjoint).</summary>
    public static Tensor PaletteDistance(Tensor a, Tensor b)
    {
        using var scope = NewDisposeScope();
        return (0.5 * (PaletteHistogram(a) - PaletteHistogram(b)).abs().sum(1)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Texture distance of image pairs, [B]: the style loss of Gatys et al. (2016) on the judge instead of
    /// VGG, the mean squared difference of Gram matrices of the judge's first two stages, summed over stages.
    /// </summary>
    public static Tensor TextureDistance(WorldJudge judge, Tensor a, Tensor b)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var fa = judge.StageActivations(a);
        var fb = judge.StageActivations(b);
        var total = zeros(a.shape[0], device: a.device);
        for (int s = 0; s < fa.Count; s++) total += (Gram(fa[s]) - Gram(fb[s])).square().mean([1, 2]);
        return total.MoveToOuterDisposeScope();
    }

    // G = F Fᵀ / (H·W): channel co-activations averaged over positions.
    private static Tensor Gram(Tensor f)
    {
        var x = f.flatten(2);
        return x.matmul(x.transpose(1, 2)) / x.shape[2];
    }

    /// <summary>
    /// Scores each painted region of each image: <paramref name="regions"/>[i] lists image i's regions.
    /// The judge reads the colour of the object in each cell; the pixels are read by nearest palette colour.
    /// </summary>
    public static IReadOnlyList<RegionScore>[] RegionScores(WorldJudge judge, Tensor images, IReadOnlyList<IReadOnlyList<PaintedRegion>> regions)
    {
        if (regions.Count != images.shape[0]) throw new ArgumentException($"{images.shape[0]} images but regions for {regions.Count}");
        long[] cellColors, nearest;
        int pixels = (int)(images.shape[2] * images.shape[3]);
        using (var scope = NewDisposeScope())
        using (no_grad())
        {
            cellColors = judge.forward(images).CellColor.argmax(2).cpu().data<long>().ToArray();
            nearest = PaletteIndices(images).cpu().data<long>().ToArray();
        }
        var result = new IReadOnlyList<RegionScore>[regions.Count];
        for (int i = 0; i < regions.Count; i++)
        {
            var scores = new List<RegionScore>();
            foreach (var region in regions[i])
            {
                if (region.Mask.Length != pixels) throw new ArgumentException($"a region mask has {region.Mask.Length} pixels, the images {pixels}");
                int inter = 0, union = 0;
                for (int p = 0; p < pixels; p++)
                {
                    bool found = nearest[(long)i * pixels + p] == region.Color, painted = region.Mask[p];
                    if (found && painted) inter++;
                    if (found || painted) union++;
                }
                var judged = Enumerable.Range(0, 9).Where(k => cellColors[i * 9 + k] == region.Color + 1).ToHashSet();
                int cellInter = region.Cells.Count(judged.Contains);
                int cellUnion = judged.Union(region.Cells).Count();
                scores.Add(new RegionScore(
                    union == 0 ? 0 : inter / (double)union,
                    cellUnion == 0 ? 0 : cellInter / (double)cellUnion,
                    region.Cells.Count == 0 ? 0 : cellInter / (double)region.Cells.Count));
            }
            result[i] = scores;
        }
        return result;
    }

    /// <summary>
    /// The painted regions of a drawn scene's caption: one per phrase that names objects (a counting phrase
    /// names several), with the union of their masks and cells.
    /// </summary>
    public static IReadOnlyList<(string Phrase, PaintedRegion Region)> CaptionRegions(RenderedScene scene, Caption caption)
    {
        var result = new List<(string, PaintedRegion)>();
        foreach (var group in caption.Links.GroupBy(l => (l.Start, l.Length)))
        {
            var objects = group.Select(l => l.Object).ToList();
            var mask = new bool[scene.Masks[objects[0]].Length];
            foreach (int o in objects)
                for (int p = 0; p < mask.Length; p++) mask[p] |= scene.Masks[o][p];
            string phrase = caption.Text.Substring(group.Key.Start, group.Key.Length);
            result.Add((phrase, new PaintedRegion(scene.Scene.Objects[objects[0]].Color, mask,
                objects.Select(o => scene.Scene.Objects[o].Cell).Distinct().ToList())));
        }
        return result;
    }
}
