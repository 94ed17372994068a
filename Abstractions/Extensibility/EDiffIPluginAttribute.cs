namespace EDiffI.Extensibility;

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
