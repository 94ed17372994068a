namespace EDiffI.Plugins.T5;

/// <summary>Builds T5 modules from checkpoint folders.</summary>
public static class T5Loader
{
    /// <summary>
    /// Builds an encoder with uninitialised weights placed as <paramref name="at"/> says and copies the
    /// checkpoint into it tensor by tensor (any stored dtype; <c>encoder.embed_tokens.weight</c> stands
    /// in for a missing <c>shared.weight</c>; other extra tensors, a decoder's for instance, are ignored).
    /// </summary>
    public static T5EncoderModel LoadEncoder(string folder, T5Config? config = null, T5Placement? at = null) =>
        Load(folder, config ?? T5Config.Read(folder), c => new T5EncoderModel(c, at));

    /// <summary>Builds an encoder-decoder and loads its checkpoint (the head from lm_head.weight when untied).</summary>
    public static T5ForConditionalGeneration LoadConditionalGeneration(string folder, T5Placement? at = null) =>
        Load(folder, T5Config.Read(folder), c => new T5ForConditionalGeneration(c, at));

    // Opens the checkpoint, builds the module and copies the tensors in; the module is disposed if loading fails.
    private static TModel Load<TModel>(string folder, T5Config config, Func<T5Config, TModel> build) where TModel : T5Model
    {
        var checkpoint = SafeTensorsCheckpoint.Open(folder);
        var model = build(config);
        try
        {
            checkpoint.LoadInto(model, new Dictionary<string, string> { ["shared.weight"] = "encoder.embed_tokens.weight" });
        }
        catch
        {
            model.Dispose();
            throw;
        }
        return model;
    }
}
