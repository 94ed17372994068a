using EDiffI.Host.Runtime;
using EDiffI.Networks;
using TorchSharp;
using static TorchSharp.torch;

namespace EDiffI.Host.Training;

/// <summary>
/// Grows a trained network into a larger shape of the same family (<c>train --finetune MODEL --grow SHAPE</c>): every
/// weight the trained network has is kept, and the layers the larger shape adds start from their initialisation. The
/// U-Net's attention blocks end in zero-initialised projections, so a network grown by attention at another resolution
/// computes exactly what the trained one did until training moves the new layers.
/// </summary>
public static class NetworkGrowth
{
    /// <summary>
    /// The starting state of <paramref name="grown"/> (float32 weights, and the same as the EMA): the tensors of
    /// <paramref name="trained"/> where the names agree, <paramref name="grown"/>'s own initialisation elsewhere.
    /// </summary>
    /// <returns>The state, and the names of the tensors that are new.</returns>
    /// <exception cref="UserException">When the larger shape drops or reshapes a tensor the trained network has: that is another network, not a grown one.</exception>
    public static (TrainerState State, IReadOnlyList<string> Added) Grow(INetwork trained, INetwork grown)
    {
        using var noGrad = no_grad();
        var from = trained.Module.state_dict();
        var to = grown.Module.state_dict();
        var problems = new List<string>();
        foreach (var (name, tensor) in from)
        {
            if (!to.TryGetValue(name, out var target)) problems.Add($"'{name}' is missing");
            else if (!tensor.shape.SequenceEqual(target.shape))
                problems.Add($"'{name}' is [{string.Join(", ", tensor.shape)}] in the trained network and [{string.Join(", ", target.shape)}] in the new shape");
        }
        if (problems.Count > 0)
            throw new UserException($"The new shape cannot grow from the trained network: {problems.Count} of its {from.Count} tensors do not carry over " +
                                    $"({string.Join("; ", problems.Take(4))}{(problems.Count > 4 ? "; …" : "")}). Growing keeps every trained tensor and " +
                                    "only adds layers, such as attention at another resolution.");
        var added = to.Keys.Where(name => !from.ContainsKey(name)).ToList();
        var state = TrainerState.At(to.Select(kv => KeyValuePair.Create(kv.Key, from.TryGetValue(kv.Key, out var t) ? t : kv.Value)));
        return (state, added);
    }
}
