using static TorchSharp.torch;

namespace EDiffI.Plugins.World;

/// <summary>How much of its scene a prompt names, and so what the judge may hold a generated image to.</summary>
public enum SceneDetail
{
    /// <summary>
    /// Everything, in place: long captions (scale, orientation, density, thickness and each object's cell), and images
    /// whose layout an input fixes (img2img, super-resolution, painted regions). Objects are scored in their own cells.
    /// </summary>
    Full,

    /// <summary>
    /// A short caption: the background's family and two colours and each object's shape and colour, but not where the
    /// objects are nor the pattern's scale, orientation, density or thickness. Those background attributes are not
    /// scored, and each object is matched to whichever cells hold the best match (one object to a cell).
    /// </summary>
    ShortCaption,
}

/// <summary>
/// The paper's measurements at the world's scale. FID (Heusel et al. 2017) becomes the Fréchet
/// distance between the judge's features of generated and of real images (<see cref="EDiffI.Evaluation.FrechetDistance"/>);
/// the CLIP score (how well an image matches its prompt) becomes the share of the prompt's attributes the judge finds.
/// </summary>
public static class WorldMetrics
{
    /// <summary>The background attributes a short caption names: family, colour and second colour (see <see cref="Captions.Background"/>).</summary>
    private const int ShortCaptionBackgroundAttributes = 3;

    /// <summary>
    /// Share of each attribute that the judge reads from <paramref name="images"/> as the scenes intended (the
    /// prompt-fidelity score). Background attributes are scored where visible and named; object shape and colour in
    /// the cells the scene puts an object in, or, where the prompt names no positions (<see cref="SceneDetail.ShortCaption"/>),
    /// in the distinct cells that agree best.
    /// </summary>
    /// <returns>Attribute name → (agreeing, scored).</returns>
    public static Dictionary<string, (long Agree, long Scored)> AttributeAgreement(WorldJudge judge, Tensor images, IReadOnlyList<Scene> scenes,
        SceneDetail detail = SceneDetail.Full)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var (heads, cellShape, cellColor) = judge.forward(images);
        var predicted = heads.Select(h => h.argmax(1).cpu().data<long>().ToArray()).ToArray();
        var shapes = cellShape.argmax(2).cpu().data<long>().ToArray();
        var colors = cellColor.argmax(2).cpu().data<long>().ToArray();
        var result = SceneLabels.BackgroundNames.Concat(["object shape", "object colour"]).ToDictionary(n => n, _ => (0L, 0L));
        void Add(string name, bool agree)
        {
            var (a, s) = result[name];
            result[name] = (a + (agree ? 1 : 0), s + 1);
        }
        int namedBackground = detail == SceneDetail.ShortCaption ? ShortCaptionBackgroundAttributes : SceneLabels.BackgroundNames.Length;
        for (int i = 0; i < scenes.Count; i++)
        {
            var labels = SceneLabels.Of(scenes[i]);
            var background = labels.Background;
            for (int a = 0; a < namedBackground; a++)
                if (SceneLabels.Visible(a, scenes[i].Background.Family))
                    Add(SceneLabels.BackgroundNames[a], predicted[a][i] == background[a]);
            var objects = scenes[i].Objects;
            var cellShapes = shapes.AsSpan(i * 9, 9).ToArray();
            var cellColors = colors.AsSpan(i * 9, 9).ToArray();
            var cells = detail == SceneDetail.ShortCaption
                ? BestCells(objects, cellShapes, cellColors)
                : objects.Select(o => o.Cell).ToArray();
            for (int k = 0; k < objects.Count; k++)
            {
                Add("object shape", cellShapes[cells[k]] == (int)objects[k].Shape + 1);
                Add("object colour", cellColors[cells[k]] == objects[k].Color + 1);
            }
        }
        return result;
    }

    /// <summary>
    /// The cells, one per object and no two alike, whose predicted shapes and colours agree with the objects most
    /// often (every placement is tried: at most 9·8·7 for three objects).
    /// </summary>
    internal static int[] BestCells(IReadOnlyList<SceneObject> objects, long[] cellShapes, long[] cellColors)
    {
        var best = new int[objects.Count];
        var current = new int[objects.Count];
        int bestScore = -1;
        var used = new bool[9];
        void Place(int k, int score)
        {
            if (k == objects.Count)
            {
                if (score > bestScore) { bestScore = score; current.CopyTo(best, 0); }
                return;
            }
            for (int c = 0; c < 9; c++)
            {
                if (used[c]) continue;
                used[c] = true;
                current[k] = c;
                int gain = (cellShapes[c] == (int)objects[k].Shape + 1 ? 1 : 0) + (cellColors[c] == objects[k].Color + 1 ? 1 : 0);
                Place(k + 1, score + gain);
                used[c] = false;
            }
        }
        Place(0, 0);
        return best;
    }
}
