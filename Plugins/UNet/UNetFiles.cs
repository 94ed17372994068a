using EDiffI.IO;
using static TorchSharp.torch;

namespace EDiffI.Plugins.UNet;

/// <summary>A U-Net on disk: <c>unet.json</c> (its <see cref="UNetConfig"/>) beside <c>unet.safetensors</c>.</summary>
public static class UNetFiles
{
    /// <summary>File name of the configuration.</summary>
    public const string ConfigFile = "unet.json";

    /// <summary>File name of the weights.</summary>
    public const string WeightsFile = "unet.safetensors";

    /// <summary>Writes the configuration and the weights (cast to <paramref name="dtype"/> when given) into <paramref name="folder"/>.</summary>
    public static void Save(EDiffIUNet model, string folder, ScalarType? dtype = null)
    {
        Directory.CreateDirectory(folder);
        SafeTensorsWeights.WriteAtomically(Path.Combine(folder, ConfigFile),
            s => { using var w = new StreamWriter(s, leaveOpen: true); w.Write(model.Config.ToJson()); });
        SafeTensorsWeights.Save(model, Path.Combine(folder, WeightsFile), dtype);
    }

    /// <summary>Reads and checks the configuration of the U-Net in <paramref name="folder"/>.</summary>
    /// <exception cref="FileNotFoundException">When there is no <c>unet.json</c>.</exception>
    /// <exception cref="InvalidDataException">Naming the file and what is wrong with it.</exception>
    public static UNetConfig ReadConfig(string folder)
    {
        string path = Path.Combine(folder, ConfigFile);
        if (!File.Exists(path)) throw new FileNotFoundException($"No U-Net configuration at '{path}'.", path);
        var config = UNetConfig.FromJson(File.ReadAllText(path), path);
        try
        {
            config.Validate();
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"'{path}': {e.Message}", e);
        }
        return config;
    }

    /// <summary>
    /// Builds the U-Net in <paramref name="folder"/> and loads its weights (float32, on the CPU). Slots in
    /// <paramref name="extraSlots"/> that the saved network lacks are added and keep their initial values.
    /// </summary>
    public static EDiffIUNet Load(string folder, IReadOnlyList<StreamSlotConfig>? extraSlots = null)
    {
        var config = ReadConfig(folder);
        var added = (extraSlots ?? []).Where(s => config.Streams.All(c => c.Name != s.Name)).ToList();
        foreach (var slot in extraSlots ?? [])
            if (config.Streams.FirstOrDefault(c => c.Name == slot.Name) is { } have && have != slot)
                throw new InvalidDataException($"The network in '{folder}' already has a slot '{slot.Name}' of another shape ({have}, asked for {slot}).");
        EDiffIUNet model;
        try
        {
            model = new EDiffIUNet(config with { Streams = [.. config.Streams, .. added] });
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException(e.Message, e);
        }
        try
        {
            var tensors = SafeTensorsWeights.Read(Path.Combine(folder, WeightsFile));
            try
            {
                // The added slots are not in the file: they keep their (zero) initialisation.
                var own = model.state_dict();
                var all = new Dictionary<string, Tensor>(tensors);
                foreach (var slot in added)
                    foreach (var (key, value) in own.Where(kv => kv.Key.StartsWith($"streams.{slot.Name}.", StringComparison.Ordinal)))
                        all.TryAdd(key, value);
                SafeTensorsWeights.LoadInto(model, all, Path.Combine(folder, WeightsFile));
            }
            finally
            {
                foreach (var t in tensors.Values) t.Dispose();
            }
        }
        catch
        {
            model.Dispose();
            throw;
        }
        return model;
    }
}
