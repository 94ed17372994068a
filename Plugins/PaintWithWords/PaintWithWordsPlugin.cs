using EDiffI.Extensibility;
using EDiffI.Plugins.PaintWithWords;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

[assembly: EDiffIPlugin("PaintWithWords", "1.0.0", PluginContract.Version, typeof(PaintWithWordsPlugin))]

namespace EDiffI.Plugins.PaintWithWords;

/// <summary>The plugin's registration entry point: paint-with-words (eDiff-I, Section 4.3).</summary>
public sealed class PaintWithWordsPlugin : IPluginRegistration
{
    /// <summary>The configuration section of its options.</summary>
    public const string Section = "PaintWithWords";

    /// <inheritdoc />
    public void Register(IServiceCollection services, IConfiguration configuration) =>
        services.AddPaintWithWords(options => configuration.GetSection(Section).Bind(options));
}
