using EDiffI.Encoders;
using EDiffI.Extensibility;
using EDiffI.Plugins.TextHash;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

[assembly: EDiffIPlugin("TextHash", "1.0.0", PluginContract.Version, typeof(TextHashPlugin))]

namespace EDiffI.Plugins.TextHash;

/// <summary>Builds "word-hash" encoders from a model's specification.</summary>
public sealed class WordHashEncoderFactory : ITextEncoderFactory
{
    /// <inheritdoc />
    public string Kind => "word-hash";

    /// <inheritdoc />
    public ITextEncoder Create(TextEncoderSpec spec, string? modelFolder) =>
        new WordHashTextEncoder(new WordHashOptions { Dimension = spec.Dimension, MaxTokens = spec.MaxTokens, Seed = spec.Seed });
}

/// <summary>The plugin's registration entry point.</summary>
public sealed class TextHashPlugin : IPluginRegistration
{
    /// <inheritdoc />
    public void Register(IServiceCollection services, IConfiguration configuration) =>
        services.TryAddEnumerable(ServiceDescriptor.Singleton<ITextEncoderFactory, WordHashEncoderFactory>());
}
