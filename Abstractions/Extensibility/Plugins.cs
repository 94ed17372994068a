using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace EDiffI.Extensibility;

/// <summary>The version of the contracts in this assembly, which every plugin records when it is built.</summary>
public static class PluginContract
{
    /// <summary>Breaking changes raise the major version: a plugin built for another major is refused.</summary>
    public const int Major = 1;

    /// <summary>Additions raise the minor version: a plugin built for a newer minor than the host's is refused.</summary>
    public const int Minor = 0;

    /// <summary>"major.minor"; pass this constant to <see cref="EDiffIPluginAttribute"/> so it is baked into the plugin.</summary>
    public const string Version = "1.0";

    /// <summary>Why a plugin built against <paramref name="pluginContract"/> cannot run here, or null when it can.</summary>
    public static string? Incompatibility(string pluginContract)
    {
        var parts = pluginContract.Split('.');
        if (parts.Length != 2 || !int.TryParse(parts[0], out int major) || !int.TryParse(parts[1], out int minor))
            return $"its contract version '{pluginContract}' is not of the form major.minor";
        if (major != Major)
            return $"it was built against contract {pluginContract}; this host implements {Version} (a different major version)";
        if (minor > Minor)
            return $"it was built against contract {pluginContract}, newer than this host's {Version}; update the host";
        return null;
    }
}

/// <summary>
/// The one registration entry point of a plugin: it adds the plugin's services, in the
/// <c>services.AddXxx(options => ...)</c> idiom, binding options from the host configuration.
/// </summary>
public interface IPluginRegistration
{
    /// <summary>Adds the plugin's services.</summary>
    /// <param name="services">The host's services.</param>
    /// <param name="configuration">The host's configuration (appsettings.json, EDIFFI_ environment variables, --set overrides).</param>
    void Register(IServiceCollection services, IConfiguration configuration);
}

/// <summary>
/// The plugin manifest, on the plugin assembly:
/// <c>[assembly: EDiffIPlugin("Name", "1.2.0", PluginContract.Version, typeof(Registration))]</c>.
/// </summary>
/// <param name="name">Name users and configuration refer to the plugin by.</param>
/// <param name="version">The plugin's own version.</param>
/// <param name="contractVersion">The contract version it was built against: pass <see cref="PluginContract.Version"/>.</param>
/// <param name="registration">The type implementing <see cref="IPluginRegistration"/>.</param>
[AttributeUsage(AttributeTargets.Assembly)]
public sealed class EDiffIPluginAttribute(string name, string version, string contractVersion, Type registration) : Attribute
{
    /// <summary>Name of the plugin.</summary>
    public string Name { get; } = name;
    /// <summary>Version of the plugin.</summary>
    public string Version { get; } = version;
    /// <summary>Contract version the plugin was built against.</summary>
    public string ContractVersion { get; } = contractVersion;
    /// <summary>The registration entry point.</summary>
    public Type Registration { get; } = registration;
}
