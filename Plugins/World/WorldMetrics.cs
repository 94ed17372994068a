using static TorchSharp.torch;

namespace EDiffI.Plugins.World;

/// <summary>
/// The paper's measurements at the world's scale. FID (Heusel et al. 2017) becomes the Fréchet
/// distance between the judge's features of generated and of real images (<see cref="EDiffI.Evaluation.FrechetDistance"/>);
/// the CLIP score (how well an image matches its prompt) becomes the share of the prompt's attributes the judge finds.
/// </summary>
public static class WorldMetrics
{
    /// <summary>
    /// Share of each attribute that the judge reads from <paramref name="images"/> as the scenes
    /// intended (the prompt-fidelity score). Background attributes are scored where visible, object
    /// shape and colour in the cells the scene puts an object in.
    /// </summary>
    /// <returns>Attribute name → (agreeing, scored).</returns>
    public static Dictionary<string, (long Agree, long Scored)> AttributeAgreement(WorldJudge judge, Tensor images, IReadOnlyList<Scene> scenes)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var (heads, cellShape, cellColor) = judge.forward(images);
        var predicted = heads.Select(h => h.argmax(1).cpu().data<long>().ToArray()).ToArray();
        var shapes = cellShape.argmax(2).cpu().data<long>().ToArray();
        var colors = cellColor.argmax(2).cpu().data<long>().ToArray();
        var result = SceneLabels.BackgroundNames.Concat(["object shape", "object colour"]).ToDictionary(n => n, _ => (0L, 0L));
        for (int i = 0; i < scenes.Count; i++)
        {
            var labels = SceneLabels.Of(scenes[i]);
            var background = labels.Background;
            for (int a = 0; a < background.Length; a++)
            {
                if (!SceneLabels.Visible(a, scenes[i].Background.Family)) continue;
                var (agree, scored) = result[SceneLabels.BackgroundNames[a]];
                result[SceneLabels.BackgroundNames[a]] = (agree + (predicted[a][i] == background[a] ? 1 : 0), scored + 1);
            }
            foreach (var o in scenes[i].Objects)
            {
                var (sa, ss) = result["object shape"];
                result["object shape"] = (sa + (shapes[i * 9 + o.Cell] == labels.CellShape[o.Cell] ? 1 : 0), ss + 1);
                var (ca, cs) = result["object colour"];
                result["object colour"] = (ca + (colors[i * 9 + o.Cell] == labels.CellColor[o.Cell] ? 1 : 0), cs + 1);
            }
        }
        return result;
    }
}
