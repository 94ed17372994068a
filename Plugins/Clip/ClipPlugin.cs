using EDiffI.Encoders;
using EDiffI.Extensibility;
using EDiffI.Plugins.Clip;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

[assembly: EDiffIPlugin("Clip", "1.0.0", PluginContract.Version, typeof(ClipPlugin))]

namespace EDiffI.Plugins.Clip;

/// <summary>Resolves an encoder spec's folder against the model folder.</summary>
internal static class SpecFolder
{
    public static string Resolve(string? path, string? modelFolder, string kind)
    {
        if (string.IsNullOrWhiteSpace(path))
            throw new ArgumentException($"a '{kind}' encoder needs Path: the CLIP model folder (config.json, model.safetensors, vocab.json, merges.txt), relative to the model folder");
        return Path.IsPathRooted(path) || modelFolder is null ? Path.GetFullPath(path) : Path.GetFullPath(Path.Combine(modelFolder, path));
    }
}

/// <summary>Builds "clip" text encoders from a Hugging Face CLIP folder.</summary>
public sealed class ClipTextEncoderFactory : ITextEncoderFactory
{
    /// <inheritdoc />
    public string Kind => "clip";

    /// <inheritdoc />
    /// <remarks>Width and token count come from the checkpoint's config.json; the spec's Dimension and MaxTokens are not used.</remarks>
    public ITextEncoder Create(TextEncoderSpec spec, string? modelFolder) =>
        ClipTextEncoder.Load(SpecFolder.Resolve(spec.Path, modelFolder, Kind));
}

/// <summary>Builds "clip-vision" image encoders from a Hugging Face CLIP folder.</summary>
public sealed class ClipImageEncoderFactory : IImageEncoderFactory
{
    /// <inheritdoc />
    public string Kind => "clip-vision";

    /// <inheritdoc />
    public IImageEncoder Create(ImageEncoderSpec spec, string? modelFolder) =>
        ClipImageEncoder.Load(SpecFolder.Resolve(spec.Path, modelFolder, Kind));
}

/// <summary>The plugin's registration entry point: the "clip" text and "clip-vision" image encoders.</summary>
public sealed class ClipPlugin : IPluginRegistration
{
    /// <inheritdoc />
    public void Register(IServiceCollection services, IConfiguration configuration)
    {
        services.TryAddEnumerable(ServiceDescriptor.Singleton<ITextEncoderFactory, ClipTextEncoderFactory>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IImageEncoderFactory, ClipImageEncoderFactory>());
    }
}
