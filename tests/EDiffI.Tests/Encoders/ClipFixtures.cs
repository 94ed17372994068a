using System.Text.Json;
using EDiffI.IO;
using static TorchSharp.torch;

namespace EDiffI.Tests.Encoders;

/// <summary>The CLIP reference fixtures of tests/Fixtures/Encoders (made with transformers 5.17; scripts/fixtures/README.md).</summary>
internal static class ClipFixtures
{
    public static string Root { get; } = FindRoot();
    public static string ModelFolder => Path.Combine(Root, "clip");
    public static string ImagePath => Path.Combine(Root, "reference", "clip_image.png");

    private static readonly Lazy<Reference> _reference = new(() => new Reference(
        JsonDocument.Parse(File.ReadAllText(Path.Combine(Root, "reference", "clip.json"))).RootElement.Clone(),
        SafeTensorsWeights.Read(Path.Combine(Root, "reference", "clip.safetensors"))));

    public static Reference Expected => _reference.Value;

    /// <summary>The reference outputs: clip.json (prompts, ids, pieces, offsets) and clip.safetensors (tensors).</summary>
    internal sealed record Reference(JsonElement Json, Dictionary<string, Tensor> Tensors)
    {
        public string[] Prompts => Json.GetProperty("prompts").EnumerateArray().Select(p => p.GetString()!).ToArray();
        public int[] Ids(int i) => Json.GetProperty("ids")[i].EnumerateArray().Select(x => x.GetInt32()).ToArray();
        public string[] Pieces(int i) => Json.GetProperty("pieces")[i].EnumerateArray().Select(x => x.GetString()!).ToArray();
        public (int Start, int End)[] Offsets(int i) =>
            Json.GetProperty("offsets")[i].EnumerateArray().Select(x => (x[0].GetInt32(), x[1].GetInt32())).ToArray();
        public Tensor this[string name] => Tensors[name];
    }

    /// <summary>max |actual − expected| / max |expected|.</summary>
    public static double RelativeError(Tensor actual, Tensor expected)
    {
        using var scope = NewDisposeScope();
        var a = actual.to(ScalarType.Float64).cpu();
        var e = expected.to(ScalarType.Float64).cpu();
        Assert.Equal(e.shape, a.shape);
        return (a - e).abs().max().item<double>() / e.abs().max().item<double>();
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "tests", "Fixtures", "Encoders");
            if (File.Exists(Path.Combine(candidate, "reference", "clip.json"))) return candidate;
        }
        throw new DirectoryNotFoundException("tests/Fixtures/Encoders not found above the test binaries");
    }
}
