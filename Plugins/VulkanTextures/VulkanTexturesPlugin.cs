using EDiffI.Extensibility;
using EDiffI.Plugins.VulkanTextures;
using EDiffI.Textures;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

[assembly: EDiffIPlugin("VulkanTextures", "1.0.0", PluginContract.Version, typeof(VulkanTexturesPlugin))]

namespace EDiffI.Plugins.VulkanTextures;

/// <summary>The plugin's registration entry point: the Vulkan texture passes (mips, normals, BC1/BC5/BC7, preview).</summary>
public sealed class VulkanTexturesPlugin : IPluginRegistration
{
    /// <inheritdoc />
    public void Register(IServiceCollection services, IConfiguration configuration) =>
        services.AddVulkanTextures(options => configuration.GetSection(VulkanTextureOptions.Section).Bind(options));
}

/// <summary>Service registration of the Vulkan texture path.</summary>
public static class VulkanTexturesServiceCollectionExtensions
{
    /// <summary>Adds the Vulkan <see cref="ITextureGpuProvider"/>.</summary>
    /// <param name="services">The services to add to.</param>
    /// <param name="configure">Sets the options (the plugin binds the "VulkanTextures" section here).</param>
    /// <returns><paramref name="services"/>.</returns>
    public static IServiceCollection AddVulkanTextures(this IServiceCollection services, Action<VulkanTextureOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = services.AddOptions<VulkanTextureOptions>();
        if (configure is not null) options.Configure(configure);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<ITextureGpuProvider, VulkanTextureProvider>(
            sp => new VulkanTextureProvider(sp.GetRequiredService<IOptions<VulkanTextureOptions>>().Value)));
        return services;
    }
}
