using System.Diagnostics;
using EDiffI.Plugins.VulkanTextures;

namespace EDiffI.Textures.Tests;

/// <summary>The Vulkan passes against the CPU reference, closed forms and the test-side block decoders, with validation on.</summary>
[Collection("Vulkan")]
public sealed class VulkanPassTests(VulkanFixture fixture, Xunit.Abstractions.ITestOutputHelper output)
{
    private VulkanTextureGpu Gpu => fixture.Gpu;

    private static int MaxByteDifference(TextureImage a, TextureImage b)
    {
        Assert.Equal((a.Width, a.Height), (b.Width, b.Height));
        var x = a.ToRgba8();
        var y = b.ToRgba8();
        int max = 0;
        for (int i = 0; i < x.Length; i++) max = Math.Max(max, Math.Abs(x[i] - y[i]));
        return max;
    }

    [VulkanFact]
    public void TheDeviceIsNamed() => Assert.False(string.IsNullOrWhiteSpace(Gpu.DeviceName));

    [VulkanFact]
    public void MipsEqualTheCpuReferenceWithinOneLevel()
    {
        var (_, bricks) = TestImages.World(128).First();
        var normals = NormalMaps.FromHeightImage(TestImages.Height(bricks), 128, 128, 4, true, true, NormalConvention.OpenGL);
        var odd = new TextureImage(37, 20, bricks.Pixels[..(37 * 20 * 4)]);
        foreach (var (image, kind, wrap) in new[] { (bricks, TextureKind.Color, true), (bricks, TextureKind.Color, false), (normals, TextureKind.Normal, true), (bricks, TextureKind.Linear, false), (odd, TextureKind.Color, false) })
        {
            var cpu = TextureMath.MipChain(image, kind, wrap, wrap);
            var gpu = Gpu.MipChain(image, kind, wrap, wrap);
            Assert.Equal(cpu.Count, gpu.Count);
            for (int k = 0; k < cpu.Count; k++)
                Assert.True(MaxByteDifference(cpu[k], gpu[k]) <= 1, $"{kind} wrap={wrap} level {k}: {MaxByteDifference(cpu[k], gpu[k])} levels apart");
        }
    }

    [VulkanFact]
    public void WrapMipsOfAPeriodicTextureStayPeriodic()
    {
        // A 32-pixel tile repeated 4×4: level k must repeat every 32 >> k pixels, across the edges too.
        var (_, tile) = TestImages.World(32).Skip(1).First();
        var image = new TextureImage(128, 128);
        for (int y = 0; y < 128; y++)
            for (int x = 0; x < 128; x++)
                Array.Copy(tile.Pixels, ((y % 32) * 32 + x % 32) * 4, image.Pixels, (y * 128 + x) * 4, 4);
        var chain = Gpu.MipChain(image, TextureKind.Color, true, true);
        for (int k = 1; k <= 5; k++)
        {
            var level = chain[k].ToRgba8();
            int n = chain[k].Width, period = 32 >> k;
            for (int y = 0; y < n; y++)
                for (int x = 0; x < n; x++)
                    for (int c = 0; c < 4; c++)
                        Assert.InRange(level[(y * n + x) * 4 + c] - level[(((y + period) % n) * n + (x + period) % n) * 4 + c], -1, 1);
        }
        // Clamped, the edges of the same texture see different neighbours, and level 1's first column differs from its period.
        var clamped = Gpu.MipChain(image, TextureKind.Color, false, false)[1];
        Assert.True(MaxByteDifference(clamped, chain[1]) > 0);
    }

    [VulkanFact]
    public void NormalsFromAnAnalyticHeightAreWithinTwoDegrees()
    {
        // h = 0.5 + 0.2 sin(2πx/64) cos(2πy/32), periodic on 128×64; its exact gradient gives the exact normal.
        const int w = 128, h = 64;
        const float strength = 6;
        var height = new float[w * h];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                height[y * w + x] = (float)(0.5 + 0.2 * Math.Sin(2 * Math.PI * x / 64) * Math.Cos(2 * Math.PI * y / 32));
        foreach (var convention in new[] { NormalConvention.OpenGL, NormalConvention.DirectX })
        {
            var gpu = Gpu.NormalFromHeight(height, w, h, strength, true, true, convention);
            var cpu = NormalMaps.FromHeight(height, w, h, strength, true, true, convention);
            double worst = 0;
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                {
                    double dx = 0.2 * 2 * Math.PI / 64 * Math.Cos(2 * Math.PI * x / 64) * Math.Cos(2 * Math.PI * y / 32);
                    double dyDown = -0.2 * 2 * Math.PI / 32 * Math.Sin(2 * Math.PI * x / 64) * Math.Sin(2 * Math.PI * y / 32);
                    double dyUp = -dyDown; // rows grow downward; the convention measures toward the top
                    var exact = (-strength * dx, (convention == NormalConvention.OpenGL ? -1 : 1) * strength * dyUp, 1.0);
                    int o = (y * w + x) * 4;
                    var n = NormalMaps.Decode(gpu.Pixels[o], gpu.Pixels[o + 1], gpu.Pixels[o + 2]);
                    worst = Math.Max(worst, TestImages.AngleDegrees((n.X, n.Y, n.Z), exact));
                    var m = NormalMaps.Decode(cpu[(y * w + x) * 3], cpu[(y * w + x) * 3 + 1], cpu[(y * w + x) * 3 + 2]);
                    Assert.True(TestImages.AngleDegrees((n.X, n.Y, n.Z), (m.X, m.Y, m.Z)) < 0.05, "GPU and CPU normals agree");
                }
            output.WriteLine($"{convention}: worst angle {worst:0.000}°");
            Assert.True(worst < 2, $"{convention}: worst angle {worst:0.00}°");
        }
    }

    [VulkanFact]
    public void Bc1AndBc7ReachTheirPsnrOnWorldTextures()
    {
        foreach (var (name, image) in TestImages.World(128))
        {
            var original = image.ToRgba8();
            var bc1 = BlockDecoders.Decode(TextureFormat.Bc1, Gpu.Compress(image, TextureFormat.Bc1), 128, 128);
            var bc7Blocks = Gpu.Compress(image, TextureFormat.Bc7);
            var bc7 = BlockDecoders.Decode(TextureFormat.Bc7, bc7Blocks, 128, 128);
            double p1 = TestImages.Psnr(original, bc1), p7 = TestImages.Psnr(original, bc7);
            output.WriteLine($"{name}: BC1 {p1:0.00} dB, BC7 {p7:0.00} dB");
            Assert.True(p1 >= 30, $"{name}: BC1 {p1:0.0} dB");
            Assert.True(p7 >= 35, $"{name}: BC7 {p7:0.0} dB");
            Assert.True(p7 > p1, $"{name}: BC7 ({p7:0.0} dB) beats BC1 ({p1:0.0} dB)");
            for (int i = 0; i < 128 * 128 * 4; i += 4) Assert.Equal(255, bc7[i + 3]); // opaque stays opaque
        }
    }

    [VulkanFact]
    public void Bc5NormalsAreWithinThreeDegrees()
    {
        foreach (var (name, image) in TestImages.World(128))
        {
            var normals = Gpu.NormalFromHeight(TestImages.Height(image), 128, 128, 4, true, true, NormalConvention.OpenGL);
            var decoded = BlockDecoders.Decode(TextureFormat.Bc5, Gpu.Compress(normals, TextureFormat.Bc5), 128, 128);
            var stored = normals.ToRgba8();
            double sum = 0;
            for (int i = 0; i < 128 * 128; i++)
            {
                var n = NormalMaps.Decode(normals.Pixels[i * 4], normals.Pixels[i * 4 + 1], normals.Pixels[i * 4 + 2]);
                double x = decoded[i * 4] / 255.0 * 2 - 1, y = decoded[i * 4 + 1] / 255.0 * 2 - 1;
                double z = Math.Sqrt(Math.Max(0, 1 - x * x - y * y)); // BC5 keeps x and y; z is rebuilt
                sum += TestImages.AngleDegrees((n.X, n.Y, n.Z), (x, y, z));
                Assert.InRange(decoded[i * 4] - stored[i * 4], -40, 40);
            }
            double mean = sum / (128 * 128);
            output.WriteLine($"{name}: BC5 mean angular error {mean:0.000}°");
            Assert.True(mean < 3, $"{name}: BC5 mean angular error {mean:0.00}°");
        }
    }

    [VulkanFact]
    public void BlocksAtAPartialEdgeAreWhole()
    {
        var image = new TextureImage(6, 5);
        for (int i = 0; i < image.Pixels.Length; i++) image.Pixels[i] = (i % 7) / 7f;
        Assert.Equal(2 * 2 * 16, Gpu.Compress(image, TextureFormat.Bc7).Length);
        Assert.Equal(2 * 2 * 8, Gpu.Compress(image, TextureFormat.Bc1).Length);
    }

    [VulkanFact]
    public void PreviewOfAWhiteFlatMaterialIsTheAnalyticShading()
    {
        const int s = 64;
        var white = new TextureImage(4, 4);
        Array.Fill(white.Pixels, 1f);
        var flat = new TextureImage(4, 4);
        for (int i = 0; i < 16; i++) { flat.Pixels[i * 4] = 0.5f; flat.Pixels[i * 4 + 1] = 0.5f; flat.Pixels[i * 4 + 2] = 1; flat.Pixels[i * 4 + 3] = 1; }
        var preview = Gpu.RenderPreview(new PreviewMaterial(white, flat), s).ToRgba8();
        var (lx, ly, lz) = PreviewScene.LightDirection;
        double Shade(double nx, double ny, double nz, double vx, double vy, double vz)
        {
            double ndl = Math.Max(0, nx * lx + ny * ly + nz * lz);
            double hx = lx + vx, hy = ly + vy, hz = lz + vz, hl = Math.Sqrt(hx * hx + hy * hy + hz * hz);
            double ndh = Math.Max(0, (nx * hx + ny * hy + nz * hz) / hl);
            double r = PreviewScene.DefaultRoughness, a = 2 / Math.Pow(r, 4) - 2;
            double c = PreviewScene.Ambient + PreviewScene.LightIntensity * ndl + PreviewScene.LightIntensity * PreviewScene.F0 * (a + 2) / 8 * Math.Pow(ndh, a) * ndl;
            return TextureMath.LinearToSrgb((float)c) * 255;
        }
        double background = TextureMath.LinearToSrgb(PreviewScene.Background) * 255, worst = 0;
        int sphere = 0, plane = 0;
        for (int py = 0; py < s; py++)
            for (int px = 0; px < 2 * s; px++)
            {
                double u = ((px % s) + 0.5) / s * 2 - 1, v = 1 - (py + 0.5) / s * 2, expected = background;
                if (px < s && u * u + v * v < 0.81)
                {
                    double nz = Math.Sqrt(0.81 - u * u - v * v) / 0.9;
                    expected = Shade(u / 0.9, v / 0.9, nz, 0, 0, 1);
                    sphere++;
                }
                else if (px >= s)
                {
                    // Camera at (0, 1.6, 2.4) looking at the origin, 50° vertical field of view; the plane's normal is +y.
                    double ey = 1.6, ez = 2.4, el = Math.Sqrt(ey * ey + ez * ez);
                    double fx = 0, fy = -ey / el, fz = -ez / el;
                    double rx = 1, ry = 0, rz = 0; // normalize(fwd × up) for a camera in the y-z plane looking down −z
                    double ux = ry * fz - rz * fy, uy = rz * fx - rx * fz, uz = rx * fy - ry * fx;
                    double k = Math.Tan(25 * Math.PI / 180);
                    double dx = fx + u * k * rx + v * k * ux, dy = fy + u * k * ry + v * k * uy, dz = fz + u * k * rz + v * k * uz;
                    double dl = Math.Sqrt(dx * dx + dy * dy + dz * dz);
                    if (dy / dl < -1e-4)
                    {
                        expected = Shade(0, 1, 0, -dx / dl, -dy / dl, -dz / dl);
                        plane++;
                    }
                }
                for (int c = 0; c < 3; c++) worst = Math.Max(worst, Math.Abs(preview[(py * 2 * s + px) * 4 + c] - expected));
            }
        Assert.True(sphere > s * s / 2 && plane > s * s / 4, "both objects are in view");
        output.WriteLine($"preview: worst difference {worst:0.00}/255 over {sphere} sphere and {plane} plane pixels");
        Assert.True(worst <= 2, $"worst difference {worst:0.00}/255");
    }

    [VulkanFact]
    public void ATexturedPreviewShowsTheMaterial()
    {
        var (_, bricks) = TestImages.World(64).First();
        var normals = NormalMaps.FromHeightImage(TestImages.Height(bricks), 64, 64, 4, true, true, NormalConvention.OpenGL);
        var plain = Gpu.RenderPreview(new PreviewMaterial(bricks), 32).ToRgba8();
        var bumped = Gpu.RenderPreview(new PreviewMaterial(bricks, normals), 32).ToRgba8();
        Assert.NotEqual(plain, bumped);
        Assert.True(TestImages.Psnr(plain, bumped) < 60);
    }

    [VulkanFact]
    public void ValidationIsOnWhereTheLayerIsInstalled()
    {
        bool installed = File.Exists("/usr/share/vulkan/explicit_layer.d/VkLayer_khronos_validation.json");
        if (installed || VulkanAvailability.Required) Assert.True(Gpu.ValidationActive, "the Khronos validation layer checks every job");
    }

    [VulkanFact]
    public void AnUnknownDeviceIsRefusedWithTheList()
    {
        var e = Assert.Throws<TextureGpuUnavailableException>(() => new VulkanTextureProvider(new VulkanTextureOptions()).Open("no-such-gpu"));
        Assert.Contains("no-such-gpu", e.Message);
        Assert.Contains(Gpu.DeviceName, e.Message);
    }
}

/// <summary>The committed SPIR-V is what glslc makes of the committed GLSL (a build without glslc embeds it).</summary>
public sealed class SpirvTests
{
    private static string Root()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Framework.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("the repository root (Framework.sln) is not above the test binaries");
    }

    private static bool HasGlslc()
    {
        try
        {
            using var p = Process.Start(new ProcessStartInfo("glslc", "--version") { RedirectStandardOutput = true, RedirectStandardError = true });
            p!.WaitForExit();
            return p.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false;
        }
    }

    [Fact]
    public void CommittedSpirvMatchesTheSources()
    {
        bool glslc = HasGlslc();
        if (!glslc)
        {
            Assert.False(VulkanAvailability.Required, "CI installs glslc (.ci/run) to check the committed SPIR-V");
            return; // nothing to compare against without a compiler
        }
        string shaders = Path.Combine(Root(), "Plugins", "VulkanTextures", "Shaders");
        var sources = Directory.GetFiles(shaders, "*.comp");
        Assert.NotEmpty(sources);
        string temp = Directory.CreateTempSubdirectory("spv").FullName;
        try
        {
            foreach (var source in sources)
            {
                string name = Path.GetFileNameWithoutExtension(source), fresh = Path.Combine(temp, name + ".spv");
                var psi = new ProcessStartInfo("glslc") { RedirectStandardError = true };
                foreach (var a in new[] { "--target-env=vulkan1.1", "-O", "-o", fresh, source }) psi.ArgumentList.Add(a);
                using var p = Process.Start(psi)!;
                string err = p.StandardError.ReadToEnd();
                p.WaitForExit();
                Assert.True(p.ExitCode == 0, $"glslc {name}: {err}");
                var committed = Path.Combine(shaders, "spv", name + ".spv");
                Assert.True(File.Exists(committed), $"{committed} is missing: run scripts/compile-shaders.sh");
                Assert.True(File.ReadAllBytes(fresh).AsSpan().SequenceEqual(File.ReadAllBytes(committed)), $"{name}.spv differs from {name}.comp: run scripts/compile-shaders.sh and commit");
            }
        }
        finally
        {
            Directory.Delete(temp, true);
        }
    }

    [Fact]
    public void EveryShaderIsEmbedded()
    {
        foreach (var name in new[] { "mip", "normal", "bc1", "bc5", "bc7", "preview" })
            Assert.Equal(0x07230203u, BitConverter.ToUInt32(ComputePass.Spirv(name), 0)); // the SPIR-V magic number
    }
}
