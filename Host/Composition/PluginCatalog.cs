using System.Reflection;
using EDiffI.Extensibility;
using McMaster.NETCore.Plugins;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace EDiffI.Host.Composition;

/// <summary>What happened to one plugin when the host started.</summary>
public enum PluginStatus
{
    /// <summary>Loaded and registered its services.</summary>
    Loaded,
    /// <summary>Not loaded: built against an incompatible contract, or no manifest.</summary>
    Refused,
    /// <summary>Threw while loading or registering; none of its services were added.</summary>
    Faulted,
    /// <summary>Turned off by configuration (Plugins:Disabled).</summary>
    Disabled,
}

/// <summary>One plugin as the host saw it.</summary>
public sealed record PluginInfo(
    string Name, string? Version, string? ContractVersion, string Path, PluginStatus Status, string? Reason,
    IReadOnlyList<string> Provides);

/// <summary>
/// Discovers plugins (<c>plugins/&lt;Name&gt;/&lt;Name&gt;.dll</c>), loads each with McMaster.NETCore.Plugins
/// in its own load context sharing the contracts, the DI, options and configuration abstractions and
/// TorchSharp with the host, checks its manifest, and lets it register its services. A plugin that
/// fails is recorded as refused or faulted with the reason, and the host carries on with the rest.
/// </summary>
public sealed class PluginCatalog
{
    /// <summary>Types whose assemblies every plugin shares with the host.</summary>
    public static readonly Type[] SharedTypes =
    [
        typeof(IPluginRegistration), typeof(IServiceCollection), typeof(ServiceCollection), typeof(IConfiguration),
        typeof(ConfigurationBinder), typeof(IOptions<>), typeof(OptionsConfigurationServiceCollectionExtensions),
        typeof(Microsoft.Extensions.Primitives.IChangeToken), typeof(TorchSharp.torch.Tensor),
    ];

    private readonly List<PluginInfo> _plugins = [];

    /// <summary>The folders searched.</summary>
    public List<string> Folders { get; } = [];

    /// <summary>Every plugin found, in discovery order.</summary>
    public IReadOnlyList<PluginInfo> Plugins => _plugins;

    /// <summary>The plugin folders a host looks in: plugins/ beside the app, then Plugins:Folders from configuration.</summary>
    public static IEnumerable<string> DefaultFolders(IConfiguration configuration)
    {
        yield return Path.Combine(AppContext.BaseDirectory, "plugins");
        foreach (var folder in configuration.GetSection("Plugins:Folders").GetChildren())
            if (!string.IsNullOrWhiteSpace(folder.Value)) yield return folder.Value!;
    }

    /// <summary>Loads every plugin under <paramref name="folders"/> and registers its services into <paramref name="services"/>.</summary>
    public void LoadInto(IServiceCollection services, IConfiguration configuration, IEnumerable<string> folders)
    {
        var disabled = configuration.GetSection("Plugins:Disabled").GetChildren().Select(c => c.Value).ToHashSet(StringComparer.OrdinalIgnoreCase);
        foreach (string root in folders)
        {
            Folders.Add(root);
            if (!Directory.Exists(root)) continue;
            foreach (string dir in Directory.GetDirectories(root).Order(StringComparer.Ordinal))
            {
                string name = System.IO.Path.GetFileName(dir);
                string dll = System.IO.Path.Combine(dir, name + ".dll");
                if (disabled.Contains(name))
                {
                    _plugins.Add(new PluginInfo(name, null, null, dll, PluginStatus.Disabled, "listed in Plugins:Disabled", []));
                    continue;
                }
                _plugins.Add(Load(name, dll, services, configuration));
            }
        }
    }

    private static PluginInfo Load(string folderName, string dll, IServiceCollection services, IConfiguration configuration)
    {
        if (!File.Exists(dll))
            return new PluginInfo(folderName, null, null, dll, PluginStatus.Refused, $"no {folderName}.dll in its folder", []);
        EDiffIPluginAttribute? manifest;
        try
        {
            // Only the shared types' assemblies (and what they reference) come from the host; everything
            // else a plugin ships stays private, at the plugin's own version.
            var loader = PluginLoader.CreateFromAssemblyFile(dll, SharedTypes);
            var assembly = loader.LoadDefaultAssembly();
            manifest = assembly.GetCustomAttributes().FirstOrDefault(a => a.GetType().FullName == typeof(EDiffIPluginAttribute).FullName) as EDiffIPluginAttribute;
            if (manifest is null)
                return new PluginInfo(folderName, null, null, dll, PluginStatus.Refused,
                    "no [assembly: EDiffIPlugin(...)] manifest (or it was built against another copy of the contracts)", []);
            string? incompatible = PluginContract.Incompatibility(manifest.ContractVersion);
            if (incompatible is not null)
                return new PluginInfo(manifest.Name, manifest.Version, manifest.ContractVersion, dll, PluginStatus.Refused, incompatible, []);
            if (Activator.CreateInstance(manifest.Registration) is not IPluginRegistration registration)
                return new PluginInfo(manifest.Name, manifest.Version, manifest.ContractVersion, dll, PluginStatus.Refused,
                    $"{manifest.Registration.FullName} does not implement IPluginRegistration", []);
            // Register into a scratch collection first, so a plugin that throws halfway adds nothing.
            var scratch = new ServiceCollection();
            registration.Register(scratch, configuration);
            foreach (var descriptor in scratch) services.Add(descriptor);
            var provides = scratch.Where(d => d.ServiceType.Namespace?.StartsWith("EDiffI", StringComparison.Ordinal) == true)
                .Select(d => d.ServiceType.Name + " ← " + (d.ImplementationType?.Name ?? d.ImplementationInstance?.GetType().Name ?? "factory"))
                .Distinct().ToList();
            return new PluginInfo(manifest.Name, manifest.Version, manifest.ContractVersion, dll, PluginStatus.Loaded, null, provides);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            var inner = e is TargetInvocationException { InnerException: { } i } ? i : e;
            return new PluginInfo(folderName, null, null, dll, PluginStatus.Faulted, $"{inner.GetType().Name}: {inner.Message}", []);
        }
    }
}
