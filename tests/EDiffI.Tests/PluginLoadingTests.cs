using EDiffI.Conditioning;
using EDiffI.Diffusion;
using EDiffI.Host.Composition;
using EDiffI.Sampling;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using static TorchSharp.torch;

namespace EDiffI.Tests;

public class PluginLoadingTests
{
    private static readonly string Fixtures = Path.Combine(AppContext.BaseDirectory, "fixtures");
    private static readonly string Plugins = Path.Combine(AppContext.BaseDirectory, "plugins");

    private static (ServiceProvider Provider, PluginCatalog Catalog) Compose(params string[] folders) => Compose([], folders);

    private static (ServiceProvider Provider, PluginCatalog Catalog) Compose(string[] settings, string[] folders)
    {
        var config = HostComposition.BuildConfiguration(ref settings);
        var services = HostComposition.Services(config, folders);
        var provider = services.BuildServiceProvider();
        return (provider, provider.GetRequiredService<PluginCatalog>());
    }

    private static PluginInfo Find(PluginCatalog c, string folder) => c.Plugins.Single(p => Path.GetFileName(Path.GetDirectoryName(p.Path)) == folder);

    [Fact]
    public void EachFixtureEndsAsExpectedAndTheHostCarriesOn()
    {
        var (provider, catalog) = Compose(["--set", "Fixtures:SigmaMax=42"], [Fixtures]);
        using var _ = provider;
        var good = Find(catalog, "GoodPlugin");
        Assert.Equal(PluginStatus.Loaded, good.Status);
        Assert.Equal(("Good", "1.2.3", EDiffI.Extensibility.PluginContract.Version), (good.Name, good.Version, good.ContractVersion));
        Assert.Contains("ISigmaSchedule ← LinearSchedule", good.Provides);

        var throwing = Find(catalog, "ThrowingPlugin");
        Assert.Equal(PluginStatus.Faulted, throwing.Status);
        Assert.Contains("registration fails on purpose", throwing.Reason);

        var incompatible = Find(catalog, "IncompatiblePlugin");
        Assert.Equal(PluginStatus.Refused, incompatible.Status);
        Assert.Contains("contract 3.0", incompatible.Reason);

        var schedules = provider.GetServices<ISigmaSchedule>().Select(s => s.Name).ToList();
        Assert.Contains("fixture-linear", schedules);
        Assert.DoesNotContain("half-registered", schedules); // a faulted plugin adds nothing
        // Configuration reaches the plugin's options.
        Assert.Equal(42, provider.GetServices<ISigmaSchedule>().Single(s => s.Name == "fixture-linear").Sigmas(3)[0]);
    }

    [Fact]
    public void PrivateDependencyKeepsItsOwnVersion()
    {
        var (provider, catalog) = Compose(Fixtures);
        using var _ = provider;
        Assert.Equal(PluginStatus.Loaded, Find(catalog, "PrivateDependencyPlugin").Status);
        string name = provider.GetServices<ISigmaSchedule>().Single(s => s.Name.StartsWith("spectre-", StringComparison.Ordinal)).Name;
        string host = typeof(Spectre.Console.AnsiConsole).Assembly
            .GetCustomAttributes(typeof(System.Reflection.AssemblyInformationalVersionAttribute), false)
            .Cast<System.Reflection.AssemblyInformationalVersionAttribute>().Single().InformationalVersion;
        Assert.StartsWith("0.57", host);
        Assert.Equal("spectre-0.49.1-[[ok]]", name);
    }

    [Fact]
    public void DisabledPluginsAreListedButNotLoaded()
    {
        var (provider, catalog) = Compose(["--set", "Plugins:Disabled:0=GoodPlugin"], [Fixtures]);
        using var _ = provider;
        Assert.Equal(PluginStatus.Disabled, Find(catalog, "GoodPlugin").Status);
        Assert.DoesNotContain(provider.GetServices<ISigmaSchedule>(), s => s.Name == "fixture-linear");
    }

    [Fact]
    public void OutOfTreeSamplerAgreesWithHeunAtTheSameCost()
    {
        var (provider, catalog) = Compose(Plugins);
        using var _ = provider;
        Assert.All(catalog.Plugins, p => Assert.Equal(PluginStatus.Loaded, p.Status));
        var samplers = provider.GetServices<ISampler>().ToDictionary(s => s.Name);
        var heun = samplers["heun"];
        var dpm = samplers["dpmpp-2m"];
        Assert.Equal("DpmSolverSampler", dpm.GetType().Assembly.GetName().Name);

        // A three-component Gaussian mixture: its ideal denoiser is exact, so differences are the solvers'.
        var d = new GaussianMixtureDenoiser([0.2, 0.3, 0.5], [[-2.0, 0.0], [2.0, 1.0], [0.0, -2.5]], [0.3, 0.5, 0.4]);
        using var g = new Generator(12);
        using var noise = randn([512, 2, 1, 1], ScalarType.Float64, generator: g);
        Tensor Run(ISampler s, int steps) => s.Sample(d, new SamplingRequest(noise, Edm.KarrasSigmas(steps), ConditioningInputs.Unconditional));
        using var reference = Run(heun, 1024);
        using var h = Run(heun, 16);     // 31 evaluations
        using var p = Run(dpm, 31);      // 31 evaluations
        double Rms(Tensor a, Tensor b) => (a - b).square().mean().sqrt().item<double>();
        double eh = Rms(h, reference), ep = Rms(p, reference), between = Rms(h, p);
        // Two good solvers at 31 evaluations: each within 5% of the data scale (component std ≥ 0.3)
        // of the converged solution, and so within the sum of their errors of each other.
        Assert.True(eh < 0.05 && ep < 0.05, $"Heun error {eh:g3}, DPM-Solver++(2M) error {ep:g3}");
        Assert.True(between <= eh + ep + 1e-12, $"solvers differ by {between:g3}");
    }
}
