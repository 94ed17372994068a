namespace EDiffI.Host.Pipeline;

/// <summary>
/// A conditioner a model folder adds to its base (<c>model.json</c>'s <c>"adapters"</c>): the generic slot it
/// feeds in every network, the file with that slot's trained weights, and an optional default input.
/// </summary>
public sealed record AdapterSpec
{
    /// <summary>The conditioner (and slot) name, for example "palette".</summary>
    public string Name { get; init; } = "";
    /// <summary>Width of the slot's tokens (0: none).</summary>
    public int Tokens { get; init; }
    /// <summary>Width of the slot's pooled vector (0: none).</summary>
    public int Pooled { get; init; }
    /// <summary>Channels of the slot's spatial map (0: none).</summary>
    public int Channels { get; init; }
    /// <summary>
    /// The slot's weights, relative to the model folder: safetensors whose keys are the network's state-dict
    /// keys, prefixed by the expert's name and '/' for an ensemble. Null for a slot still at its initialisation.
    /// </summary>
    public string? Weights { get; init; }
    /// <summary>The input used when a request gives none (as <c>--cond name=TEXT</c>); null for none.</summary>
    public string? Default { get; init; }

    /// <summary>The slot as the conditioner contract describes it.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public Conditioning.ConditionerSlot Slot => new(Tokens, Pooled, Channels);
}
