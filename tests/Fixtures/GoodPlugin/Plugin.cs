using EDiffI.Extensibility;
using EDiffI.Sampling;
using Fixtures;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

[assembly: EDiffIPlugin("Good", "1.2.3", PluginContract.Version, typeof(GoodRegistration))]

namespace Fixtures;

public sealed class GoodRegistration : IPluginRegistration
{
    public void Register(IServiceCollection services, IConfiguration configuration) =>
        services.AddSingleton<ISigmaSchedule>(new LinearSchedule(configuration.GetValue("Fixtures:SigmaMax", 10.0)));
}

/// <summary>σ falling linearly from SigmaMax to 0.01, then 0.</summary>
public sealed class LinearSchedule(double sigmaMax) : ISigmaSchedule
{
    public string Name => "fixture-linear";
    public double[] Sigmas(int steps) =>
        [.. Enumerable.Range(0, steps).Select(i => sigmaMax + (0.01 - sigmaMax) * i / Math.Max(1, steps - 1)), 0];
}
