using EDiffI.Extensibility;
using EDiffI.Sampling;
using Fixtures;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

[assembly: EDiffIPlugin("Throwing", "0.0.1", PluginContract.Version, typeof(ThrowingRegistration))]

namespace Fixtures;

public sealed class ThrowingRegistration : IPluginRegistration
{
    public void Register(IServiceCollection services, IConfiguration configuration)
    {
        services.AddSingleton<ISigmaSchedule>(new HalfRegistered());
        throw new InvalidOperationException("fixture: registration fails on purpose");
    }
}

public sealed class HalfRegistered : ISigmaSchedule
{
    public string Name => "half-registered";
    public double[] Sigmas(int steps) => [1, 0];
}
