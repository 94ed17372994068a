using EDiffI.Plugins.VulkanTextures;

namespace EDiffI.Textures.Tests;

/// <summary>
/// Whether the Vulkan tests can run. CI (.ci/run) sets EDIFFI_REQUIRE_VULKAN=1 after installing lavapipe: then they
/// always run, and fail if no driver is found. Elsewhere they are skipped, with the reason, when there is no driver.
/// </summary>
public static class VulkanAvailability
{
    private static readonly Lazy<string?> Problem = new(() =>
    {
        var devices = new VulkanTextureProvider(new VulkanTextureOptions()).Devices(out string? problem);
        return devices.Count == 0 ? problem ?? "no Vulkan device" : null;
    });

    /// <summary>True when CI demands the Vulkan tests.</summary>
    public static bool Required => Environment.GetEnvironmentVariable("EDIFFI_REQUIRE_VULKAN") == "1";

    /// <summary>Why the Vulkan tests are skipped, or null when they run.</summary>
    public static string? SkipReason => Required || Problem.Value is null ? null : $"No Vulkan driver, Vulkan tests skipped: {Problem.Value}";
}

/// <summary>A fact that needs a Vulkan device: skipped with the reason when there is none, unless CI requires it.</summary>
public sealed class VulkanFactAttribute : FactAttribute
{
    /// <summary>Sets <see cref="FactAttribute.Skip"/> from <see cref="VulkanAvailability.SkipReason"/>.</summary>
    public VulkanFactAttribute()
    {
        if (VulkanAvailability.SkipReason is { } reason) Skip = reason;
    }
}

/// <summary>One Vulkan session with validation on, shared by the GPU tests.</summary>
public sealed class VulkanFixture : IDisposable
{
    private readonly Lazy<VulkanTextureGpu> _gpu = new(() => new VulkanTextureProvider(new VulkanTextureOptions { Validation = true }).OpenVulkan());

    /// <summary>The session (opened on first use, so skipped tests never open one).</summary>
    public VulkanTextureGpu Gpu => _gpu.Value;

    /// <inheritdoc />
    public void Dispose()
    {
        if (_gpu.IsValueCreated) _gpu.Value.Dispose();
    }
}

[CollectionDefinition("Vulkan")]
public sealed class VulkanCollection : ICollectionFixture<VulkanFixture>;
