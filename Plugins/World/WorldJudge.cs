using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace EDiffI.Plugins.World;

/// <summary>
/// The judge: a small CNN trained on the world's ground truth, used only to evaluate generated
/// images (never to condition a generator). It reads 64×64 images in [−1, 1] and predicts the
/// background's attributes from the whole image and each grid cell's object shape and colour from
/// that cell's features.
/// </summary>
public sealed class WorldJudge : nn.Module<Tensor, (Tensor[] Background, Tensor CellShape, Tensor CellColor)>
{
    private readonly Sequential features;
    private readonly ModuleList<Linear> background;
    private readonly Linear cell_shape;
    private readonly Linear cell_color;

    /// <summary>Builds an untrained judge.</summary>
    public WorldJudge() : base("WorldJudge")
    {
        static IEnumerable<(string, nn.Module<Tensor, Tensor>)> Stage(string name, long cin, long cout, bool pool)
        {
            yield return (name + "_conv1", nn.Conv2d(cin, cout, 3, padding: 1));
            yield return (name + "_bn1", nn.BatchNorm2d(cout));
            yield return (name + "_act1", nn.ReLU());
            yield return (name + "_conv2", nn.Conv2d(cout, cout, 3, padding: 1));
            yield return (name + "_bn2", nn.BatchNorm2d(cout));
            yield return (name + "_act2", nn.ReLU());
            if (pool) yield return (name + "_pool", nn.MaxPool2d(2));
        }
        features = nn.Sequential(Stage("s1", 3, 48, true).Concat(Stage("s2", 48, 96, true)).Concat(Stage("s3", 96, 160, true))
            .Concat(Stage("s4", 160, 256, false)));
        background = new ModuleList<Linear>(SceneLabels.BackgroundClasses.Select(c => nn.Linear(256 * 2, c)).ToArray());
        cell_shape = nn.Linear(256, SceneLabels.ShapeClasses);
        cell_color = nn.Linear(256, SceneLabels.ColorClasses);
        RegisterComponents();
    }

    /// <summary>The judge's 512-wide image features (average- and max-pooled), used for Fréchet distances.</summary>
    public Tensor Features(Tensor images) => Global(features.forward(images));

    /// <summary>
    /// The activations after each of the first <paramref name="stages"/> pooled stages (32×32, 16×16, 8×8 at
    /// 64×64 input): the judge's texture statistics, as Gatys et al. read them from VGG.
    /// </summary>
    public IReadOnlyList<Tensor> StageActivations(Tensor images, int stages = 2)
    {
        var result = new List<Tensor>();
        var x = images;
        foreach (var (name, module) in features.named_children())
        {
            if (result.Count == stages) break;
            x = ((nn.Module<Tensor, Tensor>)module).forward(x);
            if (name.EndsWith("_pool", StringComparison.Ordinal)) result.Add(x);
        }
        return result;
    }

    private static Tensor Global(Tensor f) =>
        cat([F.adaptive_avg_pool2d(f, [1, 1]).flatten(1), F.adaptive_max_pool2d(f, [1, 1]).flatten(1)], 1);

    /// <inheritdoc />
    public override (Tensor[] Background, Tensor CellShape, Tensor CellColor) forward(Tensor images)
    {
        var f = features.forward(images);                                   // [B, 256, 8, 8]
        var global = Global(f);
        var cells = F.adaptive_max_pool2d(f, [3, 3]).flatten(2).transpose(1, 2); // [B, 9, 256], row-major cells
        return (background.Select(h => h.forward(global)).ToArray(), cell_shape.forward(cells), cell_color.forward(cells));
    }
}
