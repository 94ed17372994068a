using System.Reflection;
using EDiffI.Extensibility;
using EDiffI.Sampling;
using Fixtures;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Spectre.Console;

[assembly: EDiffIPlugin("PrivateDependency", "1.0.0", PluginContract.Version, typeof(PrivateDependencyRegistration))]

namespace Fixtures;

public sealed class PrivateDependencyRegistration : IPluginRegistration
{
    public void Register(IServiceCollection services, IConfiguration configuration) =>
        services.AddSingleton<ISigmaSchedule>(new SpectreVersionSchedule());
}

/// <summary>Reports, through its name, which Spectre.Console the plugin runs with, after using it.</summary>
public sealed class SpectreVersionSchedule : ISigmaSchedule
{
    public string Name
    {
        get
        {
            string escaped = Markup.Escape("[ok]"); // exercise the library
            var version = typeof(AnsiConsole).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()!.InformationalVersion;
            return $"spectre-{version.Split('+')[0]}-{escaped}";
        }
    }

    public double[] Sigmas(int steps) => [1, 0];
}
