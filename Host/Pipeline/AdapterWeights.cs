using EDiffI.Host.Runtime;
using EDiffI.IO;
using EDiffI.Networks;
using static TorchSharp.torch;

namespace EDiffI.Host.Pipeline;

/// <summary>
/// The trained weights of adapters' slots: one safetensors file per adapter, keyed by the network's
/// state-dict keys (prefixed "expert/" per expert of an ensemble), so an adapter ships without its base.
/// </summary>
public static class AdapterWeights
{
    /// <summary>The key of a slot tensor in an adapter file.</summary>
    public static string Key(string? expert, string name) => expert is null ? name : $"{expert}/{name}";

    /// <summary>Writes the slot <paramref name="adapter"/> of every network into <paramref name="path"/> (float16 when <paramref name="dtype"/> says).</summary>
    public static void Save(string path, string adapter, IReadOnlyList<INetwork> networks, IReadOnlyList<string>? experts, ScalarType dtype = ScalarType.Float32)
    {
        var tensors = new Dictionary<string, Tensor>();
        for (int i = 0; i < networks.Count; i++)
            foreach (var (name, p) in networks[i].StreamParameters(adapter))
                tensors[Key(experts?[i], name)] = p.detach().to(dtype).cpu();
        if (tensors.Count == 0) throw new InvalidOperationException($"the networks have no '{adapter}' slot to save");
        SafeTensorsWeights.Save(tensors, path);
        foreach (var t in tensors.Values) t.Dispose();
    }

    /// <summary>Copies each adapter's weights file into the networks' slots; every tensor must be there with its shape.</summary>
    public static void Load(string folder, IReadOnlyList<AdapterSpec> adapters, IReadOnlyList<INetwork> networks, IReadOnlyList<string>? experts)
    {
        foreach (var adapter in adapters)
        {
            if (adapter.Weights is null) continue;
            string path = Path.Combine(folder, adapter.Weights);
            Dictionary<string, Tensor> file;
            try
            {
                file = SafeTensorsWeights.Read(path);
            }
            catch (Exception e) when (e is InvalidDataException or FileNotFoundException)
            {
                throw new UserException($"The weights of adapter '{adapter.Name}' cannot be loaded: {e.Message}", e);
            }
            try
            {
                var expected = new Dictionary<string, Tensor>();
                for (int i = 0; i < networks.Count; i++)
                    foreach (var (name, p) in networks[i].StreamParameters(adapter.Name)) expected[Key(experts?[i], name)] = p;
                SafeTensorsWeights.CopyInto(expected, file, path, $"this model's '{adapter.Name}' slots");
            }
            catch (InvalidDataException e)
            {
                throw new UserException(e.Message, e);
            }
            finally
            {
                foreach (var t in file.Values) t.Dispose();
            }
        }
    }
}
