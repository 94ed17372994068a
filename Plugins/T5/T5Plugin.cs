using EDiffI.Encoders;
using EDiffI.Extensibility;
using EDiffI.Plugins.T5;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

[assembly: EDiffIPlugin("T5", "0.1.0", PluginContract.Version, typeof(T5Plugin))]

namespace EDiffI.Plugins.T5;

/// <summary>Builds "t5" encoders: <see cref="TextEncoderSpec.Path"/> is the checkpoint folder, relative to the model folder.</summary>
public sealed class T5EncoderFactory : ITextEncoderFactory
{
    /// <inheritdoc />
    public string Kind => "t5";

    /// <inheritdoc />
    public ITextEncoder Create(TextEncoderSpec spec, string? modelFolder)
    {
        ArgumentNullException.ThrowIfNull(spec);
        if (string.IsNullOrWhiteSpace(spec.Path))
            throw new ArgumentException("A \"t5\" text encoder needs Path: the checkpoint folder (config.json, model.safetensors, spiece.model), relative to the model folder.");
        string folder = Path.IsPathRooted(spec.Path) || modelFolder is null ? spec.Path : Path.Combine(modelFolder, spec.Path);
        if (spec.MaxTokens < 2) throw new ArgumentException($"A \"t5\" text encoder needs MaxTokens ≥ 2 (room for </s>), not {spec.MaxTokens}.");
        var encoder = new T5TextEncoder(folder, spec.MaxTokens);
        if (encoder.Dimension != spec.Dimension)
        {
            encoder.Dispose();
            throw new InvalidDataException($"The T5 checkpoint '{folder}' has d_model {encoder.Dimension}, but the model's specification says Dimension {spec.Dimension}.");
        }
        return encoder;
    }
}

/// <summary>The plugin's registration entry point.</summary>
public sealed class T5Plugin : IPluginRegistration
{
    /// <inheritdoc />
    public void Register(IServiceCollection services, IConfiguration configuration) =>
        services.TryAddEnumerable(ServiceDescriptor.Singleton<ITextEncoderFactory, T5EncoderFactory>());
}
