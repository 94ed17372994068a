using System.Buffers.Binary;
using EDiffI.Host.Commands;
using EDiffI.Host.Runtime;
using EDiffI.Plugins.VulkanTextures;

namespace EDiffI.Textures.Tests;

/// <summary>The <c>texture</c> verb's job: GPU path, CPU fallback without a driver, and user errors.</summary>
[Collection("Vulkan")]
public sealed class TextureVerbTests(VulkanFixture fixture) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("texture-verb").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    /// <summary>A provider that finds no driver, as on a machine without Vulkan.</summary>
    private sealed class NoDriver : ITextureGpuProvider
    {
        public string Name => "Vulkan";
        public IReadOnlyList<string> Devices(out string? problem) { problem = "no driver"; return []; }
        public ITextureGpu Open(string? device = null) => throw new TextureGpuUnavailableException("The Vulkan loader found no device: no Vulkan driver is installed.");
    }

    private string Png()
    {
        var (_, bricks) = TestImages.World(64).First();
        string path = Path.Combine(_dir, "albedo.png");
        TextureJob.SavePng(bricks, path);
        return path;
    }

    private static (uint VkFormat, uint Levels) Ktx2(string path)
    {
        var f = File.ReadAllBytes(path);
        Assert.True(f.AsSpan(0, 12).SequenceEqual(Ktx2File.Identifier));
        return (BinaryPrimitives.ReadUInt32LittleEndian(f.AsSpan(12)), BinaryPrimitives.ReadUInt32LittleEndian(f.AsSpan(40)));
    }

    [Fact]
    public void WithoutADriverMipsAndNormalsRunOnTheCpuAndTheRestIsNamed()
    {
        string png = Png(), ktx = Path.Combine(_dir, "a.ktx2"), normal = Path.Combine(_dir, "n.png"), preview = Path.Combine(_dir, "p.png");
        var request = TextureJob.Parse(new TextureSettings { In = png, Height = png, Mips = true, Format = "bc7", Out = ktx, NormalOut = normal, Preview = preview });
        var log = new StringWriter();
        var result = TextureJob.Run(request, [new NoDriver()], log);
        string text = log.ToString();
        Assert.Contains("no Vulkan driver is installed", text);
        Assert.Contains("Falling back to the CPU for mips and normals", text);
        Assert.Null(result.Device);
        Assert.Equal(2, result.NotRun.Count);
        Assert.Contains(result.NotRun, n => n.Contains("BC7 compression", StringComparison.Ordinal));
        Assert.Contains(result.NotRun, n => n.Contains("preview", StringComparison.Ordinal));
        Assert.Equal((43u, 7u), Ktx2(ktx)); // RGBA8 sRGB, 64×64 … 1×1
        Assert.True(File.Exists(normal));
        Assert.False(File.Exists(preview));
    }

    [VulkanFact]
    public void OnTheGpuEveryPassRunsAndTheFilesHoldTheirFormats()
    {
        string png = Png(), ktx = Path.Combine(_dir, "a.ktx2"), dds = Path.Combine(_dir, "n.dds"), preview = Path.Combine(_dir, "p.png");
        var request = TextureJob.Parse(new TextureSettings { In = png, Height = png, Mips = true, Format = "bc7", Out = ktx, NormalOut = dds, Preview = preview, PreviewSize = 32 });
        var result = TextureJob.Run(request, [new VulkanTextureProvider(new VulkanTextureOptions { Validation = true })], new StringWriter());
        Assert.Empty(result.NotRun);
        Assert.Equal(fixture.Gpu.DeviceName, result.Device);
        Assert.Equal((146u, 7u), Ktx2(ktx)); // BC7 sRGB
        var d = File.ReadAllBytes(dds);
        Assert.Equal(83u, BinaryPrimitives.ReadUInt32LittleEndian(d.AsSpan(128))); // BC5
        Assert.Equal(7u, BinaryPrimitives.ReadUInt32LittleEndian(d.AsSpan(28)));
        var (rgba, w, h) = EDiffI.Host.Imaging.ImageFiles.ReadRgba8(preview, "the preview");
        Assert.Equal((64, 32), (w, h));
        Assert.Contains(rgba.Where((_, i) => i % 4 == 0), r => r > 0);
    }

    [Fact]
    public void UserMistakesGetClearMessages()
    {
        string png = Png();
        Assert.Contains("--in", Assert.Throws<UserException>(() => TextureJob.Parse(new TextureSettings { Out = "a.ktx2" })).Message);
        Assert.Contains(".ktx2 or .dds", Assert.Throws<UserException>(() => TextureJob.Parse(new TextureSettings { In = png, Out = "a.png" })).Message);
        Assert.Contains("--kind normal", Assert.Throws<UserException>(() => TextureJob.Parse(new TextureSettings { In = png, Format = "bc5", Out = "a.ktx2" })).Message);
        Assert.Contains("bc7", Assert.Throws<UserException>(() => TextureJob.Parse(new TextureSettings { In = png, Format = "bc9", Out = "a.ktx2" })).Message);
        Assert.Contains("--out", Assert.Throws<UserException>(() => TextureJob.Parse(new TextureSettings { In = png, Format = "bc7", Preview = "p.png" })).Message);
        Assert.Contains("Nothing to write", Assert.Throws<UserException>(() => TextureJob.Parse(new TextureSettings { In = png })).Message);
        Assert.Contains("not a readable image", Assert.Throws<UserException>(() => TextureJob.Parse(new TextureSettings { In = Path.Combine(_dir, "missing.png"), Out = "a.ktx2" })).Message);
        Assert.Contains("--height", Assert.Throws<UserException>(() => TextureJob.Parse(new TextureSettings { In = png, NormalOut = "n.png" })).Message);
    }

    [VulkanFact]
    public void ANamedDeviceThatDoesNotExistIsAnError()
    {
        var request = TextureJob.Parse(new TextureSettings { In = Png(), Out = Path.Combine(_dir, "a.ktx2"), VulkanDevice = "no-such-gpu" });
        var e = Assert.Throws<UserException>(() => TextureJob.Run(request, [new VulkanTextureProvider(new VulkanTextureOptions())], new StringWriter()));
        Assert.Contains("no-such-gpu", e.Message);
    }

    [Fact]
    public void TheGenerateHookWrapsMipsOnlyAlongTheAxesTheResultTiles()
    {
        var (_, bricks) = TestImages.World(64).First();
        byte[] Level1(bool wrapX, bool wrapY)
        {
            string ktx = Path.Combine(_dir, $"hook-{wrapX}-{wrapY}.ktx2");
            TextureJob.AfterGenerate(bricks.ToRgba8(), 64, 64, wrapX, wrapY, ktx, null, [new NoDriver()], new StringWriter());
            var f = File.ReadAllBytes(ktx);
            // Level index: 24 bytes per level from byte 80 (offset, length, uncompressed length); level 1 is the second.
            long offset = BinaryPrimitives.ReadInt64LittleEndian(f.AsSpan(80 + 24)), length = BinaryPrimitives.ReadInt64LittleEndian(f.AsSpan(80 + 32));
            return f.AsSpan((int)offset, (int)length).ToArray();
        }
        foreach (var (wx, wy) in new[] { (false, false), (true, false), (true, true) })
            Assert.Equal(TextureMath.MipChain(bricks, TextureKind.Color, wx, wy)[1].ToRgba8(), Level1(wx, wy));
        Assert.NotEqual(Level1(false, false), Level1(true, true)); // the addressing matters on this texture
    }

    [VulkanFact]
    public void TheGenerateHookWritesBc7MipsAndAPreview()
    {
        var (_, bricks) = TestImages.World(64).First();
        string ktx = Path.Combine(_dir, "g.ktx2"), preview = Path.Combine(_dir, "g.png");
        var result = TextureJob.AfterGenerate(bricks.ToRgba8(), 64, 64, true, true, ktx, preview, [new VulkanTextureProvider(new VulkanTextureOptions())], new StringWriter(), previewSize: 32);
        Assert.Empty(result.NotRun);
        Assert.Equal((146u, 7u), Ktx2(ktx));
        Assert.True(File.Exists(preview));
    }

    [VulkanFact]
    public void TheBridgesMaterialPreviewIsRenderedAsPixels()
    {
        var (_, bricks) = TestImages.World(64).First();
        var (rgba, width, height, notRun) = TextureJob.RenderPreview(bricks.ToRgba8(), 64, 64, 32, [new VulkanTextureProvider(new VulkanTextureOptions())]);
        Assert.Empty(notRun);
        Assert.Equal((64, 32), (width, height)); // sphere and tiled plane side by side
        Assert.Equal(64 * 32 * 4, rgba!.Length);
        Assert.Contains(Enumerable.Range(0, 64 * 32), i => rgba[i * 4] != rgba[0] || rgba[i * 4 + 1] != rgba[1]); // not a blank image
        Assert.Empty(Directory.GetFiles(Path.GetTempPath(), "ediffi-preview-*.png")); // the scratch file is gone
    }
}
