using EDiffI.Host.Data;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace EDiffI.Host.Composition;

/// <summary>Builds the host's configuration and services: built-in pieces, then every plugin.</summary>
public static class HostComposition
{
    /// <summary>
    /// Configuration from appsettings.json beside the app (optional), EDIFFI_ environment variables
    /// (EDIFFI_Sampling__Heun__SChurn=10), and <c>--set Key=Value</c> (or <c>--set=Key=Value</c>) arguments, later ones winning.
    /// The <c>--set</c> pairs are taken out of <paramref name="args"/>.
    /// </summary>
    public static IConfiguration BuildConfiguration(ref string[] args)
    {
        var overrides = new Dictionary<string, string?>();
        var rest = new List<string>();
        for (int i = 0; i < args.Length; i++)
        {
            bool inline = args[i].StartsWith("--set=", StringComparison.Ordinal);
            if (args[i] == "--set" || inline)
            {
                if (!inline && i + 1 == args.Length) throw new Runtime.UserException("--set expects Key=Value after it (for example --set Sampling:Sampler=euler).");
                string pair = inline ? args[i]["--set=".Length..] : args[++i];
                int eq = pair.IndexOf('=', StringComparison.Ordinal);
                if (eq <= 0) throw new Runtime.UserException($"--set expects Key=Value (got '{pair}').");
                overrides[pair[..eq]] = pair[(eq + 1)..];
            }
            else rest.Add(args[i]);
        }
        args = [.. rest];
        return new ConfigurationBuilder()
            .AddJsonFile(Path.Combine(AppContext.BaseDirectory, "appsettings.json"), optional: true)
            .AddEnvironmentVariables("EDIFFI_")
            .AddInMemoryCollection(overrides)
            .Build();
    }

    /// <summary>The host's services: configuration, the plugin catalog and everything plugins register.</summary>
    public static ServiceCollection Services(IConfiguration configuration, IEnumerable<string>? pluginFolders = null)
    {
        var services = new ServiceCollection();
        services.AddSingleton(configuration);
        services.AddHostDatasetSources();
        var catalog = new PluginCatalog();
        catalog.LoadInto(services, configuration, pluginFolders ?? PluginCatalog.DefaultFolders(configuration));
        services.AddSingleton(catalog);
        services.AddSingleton<Pipeline.ModelCatalog>();
        services.AddSingleton<Pipeline.GenerationServiceFactory>();
        // Built-in conditioners: the style reference and paint-with-words, on the same contract as plugins'.
        services.AddSingleton<Conditioning.IConditioner, Pipeline.Conditioners.StyleConditioner>();
        services.AddSingleton<Conditioning.IConditioner, Pipeline.Conditioners.PaintConditioner>();
        return services;
    }
}
