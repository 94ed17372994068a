using EDiffI.Textures;

namespace EDiffI.Plugins.VulkanTextures;

/// <summary>Options of the Vulkan texture path, bound to the "VulkanTextures" configuration section.</summary>
public sealed class VulkanTextureOptions
{
    /// <summary>The configuration section.</summary>
    public const string Section = "VulkanTextures";

    /// <summary>Turn the Khronos validation layer on (where installed) and fail a job on any of its messages; the tests do.</summary>
    public bool Validation { get; set; }
}

/// <summary>Opens Vulkan sessions for the texture passes (<see cref="ITextureGpuProvider"/>).</summary>
public sealed class VulkanTextureProvider(VulkanTextureOptions options) : ITextureGpuProvider
{
    /// <inheritdoc />
    public string Name => "Vulkan";

    /// <inheritdoc />
    public IReadOnlyList<string> Devices(out string? problem) => VulkanContext.ListDevices(out problem);

    /// <inheritdoc />
    public ITextureGpu Open(string? device = null) => OpenVulkan(device);

    /// <summary><see cref="Open"/> with the Vulkan type, which also says whether validation is on.</summary>
    public VulkanTextureGpu OpenVulkan(string? device = null) => new(VulkanContext.Open(device, options.Validation));
}
