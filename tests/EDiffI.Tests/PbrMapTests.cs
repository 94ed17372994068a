using EDiffI.Host.Imaging;
using EDiffI.Networks;
using EDiffI.Plugins.World;
using EDiffI.Textures;

namespace EDiffI.Tests;

/// <summary>The heuristic PBR maps: sizes, ranges, periodicity, the 16-bit height file and the material file.</summary>
public class PbrMapTests
{
    private static (byte[] Rgba, int Side) WorldTexture(int side)
    {
        using var images = SceneRenderer.ToImages([SceneRenderer.Render(5, WorldSplit.HeldOut, side).Rgb]);
        using var image = images[0];
        return (ImageFiles.ToRgba8(image, out _, out _), side);
    }

    [Fact]
    public void MapsHaveTheAlbedosSizeAndTheirRanges()
    {
        var (rgba, side) = WorldTexture(32);
        var maps = PbrMaps.FromAlbedo(rgba, side, side, TileAxes.None);
        Assert.Equal(side * side, maps.HeightMap.Length);
        Assert.Equal(side * side * 3, maps.Normal.Length);
        Assert.All(maps.HeightMap, v => Assert.InRange(v, 0f, 1f));
        Assert.Equal(0f, maps.HeightMap.Min());
        Assert.Equal(1f, maps.HeightMap.Max());
        Assert.All(maps.Roughness, v => Assert.InRange(v, 0f, 0.95f));
        Assert.All(maps.Occlusion, v => Assert.InRange(v, 0.2f, 1f));
        for (int i = 0; i < side * side; i++)
        {
            // Stored normals decode to unit vectors pointing out of the surface.
            float x = maps.Normal[i * 3] * 2 - 1, y = maps.Normal[i * 3 + 1] * 2 - 1, z = maps.Normal[i * 3 + 2] * 2 - 1;
            Assert.InRange(x * x + y * y + z * z, 0.99f, 1.01f);
            Assert.True(z > 0);
        }
    }

    [Fact]
    public void MapsOfATilingAlbedoTileAlongItsAxes()
    {
        var (rgba, side) = WorldTexture(32);
        // Shifting a tiling albedo by a few pixels shifts every map alike: no edge is special.
        var shifted = new byte[rgba.Length];
        const int by = 5;
        for (int y = 0; y < side; y++)
            for (int x = 0; x < side; x++)
                Array.Copy(rgba, (y * side + x) * 4, shifted, (y * side + (x + by) % side) * 4, 4);
        var a = PbrMaps.FromAlbedo(rgba, side, side, TileAxes.X);
        var b = PbrMaps.FromAlbedo(shifted, side, side, TileAxes.X);
        for (int y = 0; y < side; y++)
            for (int x = 0; x < side; x++)
            {
                int i = y * side + x, j = y * side + (x + by) % side;
                Assert.Equal(a.HeightMap[i], b.HeightMap[j], 5);
                Assert.Equal(a.Occlusion[i], b.Occlusion[j], 5);
                Assert.Equal(a.Roughness[i], b.Roughness[j], 5);
                Assert.Equal(a.Normal[i * 3], b.Normal[j * 3], 5);
            }
        // Without wrap the edge columns clamp, so the same shift does not commute with the maps.
        var c = PbrMaps.FromAlbedo(rgba, side, side, TileAxes.None);
        var d = PbrMaps.FromAlbedo(shifted, side, side, TileAxes.None);
        Assert.Contains(Enumerable.Range(0, side), y => Math.Abs(c.Occlusion[y * side] - d.Occlusion[y * side + by]) > 1e-4);
    }

    [Fact]
    public void TheFilesAreWrittenWithA16BitHeightAndTheMaterial()
    {
        var (rgba, side) = WorldTexture(16);
        var maps = PbrMaps.FromAlbedo(rgba, side, side, TileAxes.Both);
        string folder = Directory.CreateTempSubdirectory("ediffi-pbr-").FullName;
        try
        {
            var files = PbrMaps.Write(Path.Combine(folder, "bricks.png"), rgba, maps, TileAxes.Both, "red bricks", 3, NormalConvention.DirectX);
            Assert.Equal(["bricks_albedo.png", "bricks_height.png", "bricks_normal.png", "bricks_roughness.png", "bricks_ao.png", "bricks.material.json"],
                files.Select(Path.GetFileName));
            var height = File.ReadAllBytes(Path.Combine(folder, "bricks_height.png"));
            Assert.Equal(16, height[8 + 8 + 8]);  // IHDR bit depth
            Assert.Equal(0, height[8 + 8 + 9]);   // greyscale
            using var decoded = SkiaSharp.SKBitmap.Decode(Path.Combine(folder, "bricks_height.png"));
            Assert.NotNull(decoded); // a valid PNG to a real decoder (CRCs and zlib stream right)
            Assert.Equal(side, decoded.Width);
            var material = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "bricks.material.json"))).RootElement;
            Assert.Equal("xy", material.GetProperty("tiling").GetString());
            Assert.Equal("directx", material.GetProperty("normalConvention").GetString());
            Assert.Equal("bricks_normal.png", material.GetProperty("maps").GetProperty("normal").GetString());
            Assert.Equal(3, material.GetProperty("seed").GetInt64());
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
