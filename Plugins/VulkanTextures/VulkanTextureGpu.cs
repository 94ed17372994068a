using System.Runtime.InteropServices;
using EDiffI.Textures;

namespace EDiffI.Plugins.VulkanTextures;

/// <summary>
/// The texture passes on one Vulkan device: each pass records one job (upload, dispatches, download) on the shared
/// context and runs it. Shapes and formulas follow Abstractions/Textures; Shaders/*.comp hold the GPU side.
/// </summary>
public sealed class VulkanTextureGpu : ITextureGpu
{
    private readonly VulkanContext _context;

    internal VulkanTextureGpu(VulkanContext context) => _context = context;

    /// <inheritdoc />
    public string DeviceName => _context.DeviceName;

    /// <summary>True when the Khronos validation layer checks every job (and its messages fail the job).</summary>
    public bool ValidationActive => _context.ValidationActive;

    [StructLayout(LayoutKind.Sequential)]
    private struct MipPush { public int SrcW, SrcH, DstW, DstH, Kind, WrapX, WrapY, Mode; }

    [StructLayout(LayoutKind.Sequential)]
    private struct NormalPush { public int Width, Height; public float Strength; public int WrapX, WrapY; public float GreenSign; }

    [StructLayout(LayoutKind.Sequential)]
    private struct BlockPush { public int Width, Height, BlocksX, BlocksY; }

    [StructLayout(LayoutKind.Sequential)]
    private struct PreviewPush
    {
        public int PanelW, PanelH, AlbedoW, AlbedoH, NormalW, NormalH, RoughW, RoughH, HeightW, HeightH;
        public int HasNormal, HasRough, HasHeight;
        public float GreenSign, HeightScale, DefaultRoughness;
        public float LightX, LightY, LightZ, LightE;
        public float Ambient, F0, Background, Unused;
    }

    private static uint Groups(int n, int size) => (uint)((n + size - 1) / size);

    /// <inheritdoc />
    public IReadOnlyList<TextureImage> MipChain(TextureImage level0, TextureKind kind, bool wrapX, bool wrapY, int levels = 0)
    {
        ArgumentNullException.ThrowIfNull(level0);
        int full = TextureMath.LevelCount(level0.Width, level0.Height);
        int count = levels <= 0 ? full : Math.Min(levels, full);
        var pass = _context.Pass("mip", 3, 32);
        using var job = new GpuJob(_context, "the mip chain");
        var stored = job.Upload<float>(level0.Pixels);
        var state = job.Scratch((ulong)level0.Pixels.Length * 4);
        var unused = job.Scratch(16);
        int w = level0.Width, h = level0.Height;
        var push = new MipPush { SrcW = w, SrcH = h, DstW = w, DstH = h, Kind = (int)kind, WrapX = wrapX ? 1 : 0, WrapY = wrapY ? 1 : 0, Mode = 0 };
        job.Dispatch(pass, [stored, state, unused], push, Groups(w, 8), Groups(h, 8));
        var downloads = new List<(GpuBuffer Buffer, int W, int H)>();
        for (int k = 1; k < count; k++)
        {
            int w2 = Math.Max(1, w / 2), h2 = Math.Max(1, h / 2);
            var nextState = job.Scratch((ulong)w2 * (ulong)h2 * 16);
            var nextStored = job.Scratch((ulong)w2 * (ulong)h2 * 16);
            push = push with { SrcW = w, SrcH = h, DstW = w2, DstH = h2, Mode = 1 };
            job.Dispatch(pass, [state, nextState, nextStored], push, Groups(w2, 8), Groups(h2, 8));
            downloads.Add((job.Download(nextStored), w2, h2));
            (state, w, h) = (nextState, w2, h2);
        }
        job.Submit();
        var chain = new List<TextureImage>(count) { level0 };
        foreach (var (buffer, dw, dh) in downloads) chain.Add(new TextureImage(dw, dh, GpuJob.Read<float>(buffer)));
        return chain;
    }

    /// <inheritdoc />
    public TextureImage NormalFromHeight(float[] height, int width, int rows, float strength, bool wrapX, bool wrapY, NormalConvention convention)
    {
        ArgumentNullException.ThrowIfNull(height);
        if (width <= 0 || rows <= 0 || height.Length != (long)width * rows)
            throw new ArgumentException($"A {width}×{rows} height map needs {(long)width * rows} values, not {height.Length}.");
        var pass = _context.Pass("normal", 2, 24);
        using var job = new GpuJob(_context, "the normal map");
        var input = job.Upload<float>(height);
        var output = job.Scratch((ulong)width * (ulong)rows * 16);
        var push = new NormalPush { Width = width, Height = rows, Strength = strength, WrapX = wrapX ? 1 : 0, WrapY = wrapY ? 1 : 0, GreenSign = convention == NormalConvention.OpenGL ? -1 : 1 };
        job.Dispatch(pass, [input, output], push, Groups(width, 8), Groups(rows, 8));
        var back = job.Download(output);
        job.Submit();
        return new TextureImage(width, rows, GpuJob.Read<float>(back));
    }

    /// <inheritdoc />
    public byte[] Compress(TextureImage level, TextureFormat format)
    {
        ArgumentNullException.ThrowIfNull(level);
        string shader = format switch
        {
            TextureFormat.Bc1 => "bc1",
            TextureFormat.Bc5 => "bc5",
            TextureFormat.Bc7 => "bc7",
            _ => throw new ArgumentException($"{format} is not a block-compressed format."),
        };
        int bx = (level.Width + 3) / 4, by = (level.Height + 3) / 4;
        int blockBytes = EncodedTexture.BlockBytes(format);
        var pass = _context.Pass(shader, 2, 16);
        using var job = new GpuJob(_context, $"{format} compression");
        var input = job.Upload<byte>(level.ToRgba8());
        var output = job.Scratch((ulong)bx * (ulong)by * (ulong)blockBytes);
        job.Dispatch(pass, [input, output], new BlockPush { Width = level.Width, Height = level.Height, BlocksX = bx, BlocksY = by }, Groups(bx * by, 64));
        var back = job.Download(output);
        job.Submit();
        return GpuJob.Read<byte>(back);
    }

    /// <inheritdoc />
    public TextureImage RenderPreview(PreviewMaterial material, int panelSize)
    {
        ArgumentNullException.ThrowIfNull(material);
        if (panelSize < 8 || panelSize > 4096) throw new ArgumentException($"The preview's panel size must be 8 to 4096 pixels (got {panelSize}).");
        var pass = _context.Pass("preview", 5, 96);
        using var job = new GpuJob(_context, "the preview render");
        var dummy = new TextureImage(1, 1);
        GpuBuffer Map(TextureImage? image) => job.Upload<float>((image ?? dummy).Pixels);
        var albedo = Map(material.Albedo);
        var normal = Map(material.Normal);
        var rough = Map(material.Roughness);
        var heightMap = Map(material.Height);
        var output = job.Scratch((ulong)panelSize * 2 * (ulong)panelSize * 16);
        var (lx, ly, lz) = PreviewScene.LightDirection;
        var push = new PreviewPush
        {
            PanelW = panelSize, PanelH = panelSize,
            AlbedoW = material.Albedo.Width, AlbedoH = material.Albedo.Height,
            NormalW = (material.Normal ?? dummy).Width, NormalH = (material.Normal ?? dummy).Height,
            RoughW = (material.Roughness ?? dummy).Width, RoughH = (material.Roughness ?? dummy).Height,
            HeightW = (material.Height ?? dummy).Width, HeightH = (material.Height ?? dummy).Height,
            HasNormal = material.Normal is null ? 0 : 1, HasRough = material.Roughness is null ? 0 : 1, HasHeight = material.Height is null ? 0 : 1,
            GreenSign = material.Convention == NormalConvention.OpenGL ? 1 : -1,
            HeightScale = material.HeightScale,
            DefaultRoughness = PreviewScene.DefaultRoughness,
            LightX = lx, LightY = ly, LightZ = lz, LightE = PreviewScene.LightIntensity,
            Ambient = PreviewScene.Ambient, F0 = PreviewScene.F0, Background = PreviewScene.Background,
        };
        job.Dispatch(pass, [albedo, normal, rough, heightMap, output], push, Groups(2 * panelSize, 8), Groups(panelSize, 8));
        var back = job.Download(output);
        job.Submit();
        return new TextureImage(2 * panelSize, panelSize, GpuJob.Read<float>(back));
    }

    /// <inheritdoc />
    public void Dispose() => _context.Dispose();
}
