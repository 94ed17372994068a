using System.Text.Json.Nodes;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EDiffI.IO;

/// <summary>
/// AdamW's state in a checkpoint: each parameter's moments as tensors <c>adam/{i}/exp_avg</c> and
/// <c>adam/{i}/exp_avg_sq</c>, and the step counts as a JSON array, in the optimizer's parameter order.
/// </summary>
public static class AdamWCheckpoint
{
    /// <summary>Adds the optimizer's moments to <paramref name="tensors"/> and returns its step counts.</summary>
    public static JsonArray Collect(AdamW optimizer, IDictionary<string, Tensor> tensors)
    {
        var steps = new JsonArray();
        var states = optimizer.state_dict().State;
        for (int i = 0; i < states.Count; i++)
        {
            var s = (AdamW.State)states[i];
            tensors[$"adam/{i}/exp_avg"] = s.exp_avg;
            tensors[$"adam/{i}/exp_avg_sq"] = s.exp_avg_sq;
            steps.Add(s.step);
        }
        return steps;
    }

    /// <summary>
    /// Copies moments and step counts back into the optimizer. Throws <see cref="InvalidDataException"/> when
    /// the checkpoint holds state for another number of parameters, <see cref="KeyNotFoundException"/> when a
    /// moment is missing.
    /// </summary>
    public static void Restore(AdamW optimizer, IReadOnlyDictionary<string, Tensor> tensors, JsonArray steps, string folder)
    {
        var states = optimizer.state_dict().State;
        if (steps.Count != states.Count)
            throw new InvalidDataException($"The checkpoint in '{folder}' has optimizer state for {steps.Count} tensors, this model {states.Count}.");
        using var noGrad = no_grad();
        for (int i = 0; i < states.Count; i++)
        {
            var s = (AdamW.State)states[i];
            s.exp_avg.copy_(tensors[$"adam/{i}/exp_avg"]);
            s.exp_avg_sq.copy_(tensors[$"adam/{i}/exp_avg_sq"]);
            s.step = steps[i]!.GetValue<long>();
        }
    }
}
