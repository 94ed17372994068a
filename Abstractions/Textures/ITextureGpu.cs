namespace EDiffI.Textures;

/// <summary>
/// Texture jobs on a GPU (a plugin provides them; Plugins/VulkanTextures does through Vulkan compute). Every pass computes
/// the formulas of <see cref="TextureMath"/>, <see cref="NormalMaps"/> and <see cref="PreviewScene"/>.
/// </summary>
public interface ITextureGpu : IDisposable
{
    /// <summary>The device the jobs run on, as its driver names it ("NVIDIA H200", "llvmpipe (LLVM 15.0.6, 256 bits)").</summary>
    string DeviceName { get; }

    /// <summary>The mip chain of <paramref name="level0"/> (see <see cref="TextureMath.MipChain"/>).</summary>
    IReadOnlyList<TextureImage> MipChain(TextureImage level0, TextureKind kind, bool wrapX, bool wrapY, int levels = 0);

    /// <summary>The normal map of a height map (see <see cref="NormalMaps.FromHeight"/>), alpha 1.</summary>
    TextureImage NormalFromHeight(float[] height, int width, int rows, float strength, bool wrapX, bool wrapY, NormalConvention convention);

    /// <summary>One level block-compressed to <paramref name="format"/> (BC1, BC5 or BC7), blocks row-major.</summary>
    byte[] Compress(TextureImage level, TextureFormat format);

    /// <summary>The preview of <paramref name="material"/>: two panels of <paramref name="panelSize"/>² side by side (see <see cref="PreviewScene"/>).</summary>
    TextureImage RenderPreview(PreviewMaterial material, int panelSize);
}

/// <summary>A GPU back end that can open <see cref="ITextureGpu"/> sessions on one of its devices.</summary>
public interface ITextureGpuProvider
{
    /// <summary>The API's name ("Vulkan").</summary>
    string Name { get; }

    /// <summary>The devices found, in the order <see cref="Open"/> numbers them; empty with <paramref name="problem"/> set when there are none.</summary>
    IReadOnlyList<string> Devices(out string? problem);

    /// <summary>
    /// Opens a session on the device <paramref name="device"/> names (an index into <see cref="Devices"/> or part of a name),
    /// or, when null, on a discrete GPU if there is one, else on any device.
    /// </summary>
    /// <exception cref="TextureGpuUnavailableException">When there is no driver or no such device; the message says which.</exception>
    ITextureGpu Open(string? device = null);
}

/// <summary>No GPU device could be opened: no loader, no driver, or no device matching the request.</summary>
public sealed class TextureGpuUnavailableException(string message, Exception? inner = null) : Exception(message, inner);
