using EDiffI.Plugins.World;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace EDiffI.Tools.ClipTraining;

/// <summary>
/// Zero-shot classification of a scene's background family and main colour (Radford et al. 2021,
/// §3.1.4): each class is the mean of the normalised text embeddings of a prompt ensemble, and an
/// image takes the class whose embedding is most similar to its own. A family's prompts run over
/// every colour pair and a colour's over every family, so each class vector averages the other
/// attribute out; the templates are the world's own ways of naming a background.
/// </summary>
internal static class ZeroShot
{
    private static readonly string[] Templates = ["{0}", "a texture of {0}", "a game texture of {0}"];

    /// <summary>The prompts with the family and colour each names.</summary>
    public static List<(string Prompt, int Family, int Color)> Prompts()
    {
        var prompts = new List<(string, int, int)>();
        int families = Enum.GetValues<TextureFamily>().Length, colors = Palette.Colors.Count;
        for (int f = 0; f < families; f++)
            for (int c = 0; c < colors; c++)
                for (int k = 0; k < 3; k++)
                {
                    int second = (c + 1 + 4 * k) % colors;
                    var spec = new TextureSpec((TextureFamily)f, c, second, TextureScale.Medium, TextureOrientation.Horizontal, false, false, 0);
                    var rng = new Random(f * 1000 + c * 10 + k);
                    string background = Captions.Background(spec, rng);
                    prompts.Add((string.Format(Templates[k], background), f, c));
                }
        return prompts;
    }

    /// <summary>Class embeddings [classes, D] (normalised) for families and colours from the prompts' text embeddings [P, D].</summary>
    public static (Tensor Families, Tensor Colors) Classes(Tensor textEmbeds, List<(string Prompt, int Family, int Color)> prompts)
    {
        using var scope = NewDisposeScope();
        var e = F.normalize(textEmbeds.to(ScalarType.Float32), dim: 1);
        Tensor Mean(Func<(string, int, int), int> key, int classes)
        {
            var index = tensor(prompts.Select(p => (long)key(p)).ToArray(), device: e.device);
            var sums = zeros(classes, e.shape[1], device: e.device).index_add(0, index, e, 1);
            return F.normalize(sums, dim: 1);
        }
        var families = Mean(p => p.Item2, Enum.GetValues<TextureFamily>().Length);
        var colors = Mean(p => p.Item3, Palette.Colors.Count);
        return (families.MoveToOuterDisposeScope(), colors.MoveToOuterDisposeScope());
    }

    /// <summary>Accuracy of family and colour predictions for image embeddings [N, D] against the scenes' labels.</summary>
    public static (double Family, double Color) Accuracy(Tensor imageEmbeds, Tensor families, Tensor colors, IReadOnlyList<SceneLabels> labels)
    {
        using var scope = NewDisposeScope();
        var e = F.normalize(imageEmbeds.to(ScalarType.Float32), dim: 1);
        var predictedFamily = e.matmul(families.t()).argmax(1).cpu().data<long>().ToArray();
        var predictedColor = e.matmul(colors.t()).argmax(1).cpu().data<long>().ToArray();
        int familyOk = 0, colorOk = 0;
        for (int i = 0; i < labels.Count; i++)
        {
            if (predictedFamily[i] == labels[i].Family) familyOk++;
            if (predictedColor[i] == labels[i].Color) colorOk++;
        }
        return ((double)familyOk / labels.Count, (double)colorOk / labels.Count);
    }
}
