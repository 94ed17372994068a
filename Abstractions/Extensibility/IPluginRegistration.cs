using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace EDiffI.Extensibility;

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
