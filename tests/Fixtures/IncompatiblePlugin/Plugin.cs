using EDiffI.Extensibility;
using EDiffI.Sampling;
using Fixtures;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

// Built "against" a future major version of the contracts.
[assembly: EDiffIPlugin("Incompatible", "9.0.0", "3.0", typeof(IncompatibleRegistration))]

namespace Fixtures;

public sealed class IncompatibleRegistration : IPluginRegistration
{
    public void Register(IServiceCollection services, IConfiguration configuration) =>
        throw new InvalidOperationException("must never be called");
}
