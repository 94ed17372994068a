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

    /// <summary>Builds the U-Net in <paramref name="folder"/> and loads its weights (float32, on the CPU).</summary>
    public static EDiffIUNet Load(string folder)
    {
        var model = new EDiffIUNet(ReadConfig(folder));
        try
        {
            SafeTensorsWeights.Load(model, Path.Combine(folder, WeightsFile));
        }
        catch
        {
            model.Dispose();
            throw;
        }
        return model;
    }
}
