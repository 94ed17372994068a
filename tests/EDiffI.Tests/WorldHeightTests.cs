using System.Security.Cryptography;
using EDiffI.Plugins.World;

namespace EDiffI.Tests;

public class WorldHeightTests
{
    // SHA-256 of the albedo renders below, taken before the world learnt to draw heights: the shipped models were trained
    // on these pixels, so adding the height field must leave every one of them bit for bit as it was.
    private const string AlbedoDigest = "5B6B364CC1C0D063E8604659902BEB8251D2A507B5C7E793DD3DE00428382A7E";

    [Fact]
    public void AlbedoRendersAreUnchangedByTheHeightField()
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        for (long seed = 0; seed < 40; seed++) sha.AppendData(SceneRenderer.Render(seed, WorldSplit.Train, 64).Rgb);
        for (long seed = 0; seed < 4; seed++) sha.AppendData(SceneRenderer.Render(seed, WorldSplit.HeldOut, 256).Rgb);
        foreach (var family in Enum.GetValues<TextureFamily>())
            foreach (var orientation in Enum.GetValues<TextureOrientation>())
            {
                var spec = new TextureSpec(family, 3, 9, TextureScale.Medium, orientation, true, true, 5);
                var rgb = new byte[48 * 48 * 3];
                TextureRenderer.Render(spec, 1024, new PixelWindow(300, 200, 48, 48), rgb);
                sha.AppendData(rgb);
            }
        Assert.Equal(AlbedoDigest, Convert.ToHexString(sha.GetHashAndReset()));
    }

    [Fact]
    public void HeightTilesWhereverTheAlbedoDoes()
    {
        int tileable = 0;
        foreach (var family in Enum.GetValues<TextureFamily>())
            foreach (var orientation in Enum.GetValues<TextureOrientation>())
            {
                var spec = new TextureSpec(family, 0, 5, TextureScale.Medium, orientation, true, true, 9);
                if (!spec.Tileable) continue;
                tileable++;
                for (int i = 0; i < 50; i++)
                {
                    double u = (i * 0.137 + 0.0123) % 1, v = (i * 0.291 + 0.0171) % 1;
                    double here = TextureRenderer.SampleSurface(spec, u, v).Height;
                    Assert.Equal(here, TextureRenderer.SampleSurface(spec, u + 1, v).Height, 6);
                    Assert.Equal(here, TextureRenderer.SampleSurface(spec, u, v + 1).Height, 6);
                }
            }
        Assert.Equal(13 * 2, tileable);
    }

    [Fact]
    public void HeightIsDrawnAtAnySizeAndAnyWindowAlike()
    {
        var spec = new TextureSpec(TextureFamily.Cobblestones, 2, 9, TextureScale.Medium, TextureOrientation.Horizontal, false, true, 3);
        const int size = 96;
        var rgb = new byte[size * size * 3];
        var heights = new float[size * size];
        TextureRenderer.Render(spec, size, new PixelWindow(0, 0, size, size), rgb, heights);
        var windowRgb = new byte[20 * 12 * 3];
        var windowHeights = new float[20 * 12];
        TextureRenderer.Render(spec, size, new PixelWindow(50, 30, 20, 12), windowRgb, windowHeights);
        for (int y = 0; y < 12; y++)
            for (int x = 0; x < 20; x++)
                Assert.Equal(heights[(30 + y) * size + 50 + x], windowHeights[y * 20 + x]);
        var albedoOnly = new byte[size * size * 3];
        TextureRenderer.Render(spec, size, albedoOnly);
        Assert.Equal(albedoOnly, rgb);
        Assert.All(heights, h => Assert.InRange(h, 0f, 1f));
        Assert.Throws<ArgumentException>(() => TextureRenderer.Render(spec, size, new PixelWindow(0, 0, size, size), rgb, new float[10]));
    }

    [Theory]
    // Families whose second colour draws the joints between raised elements (mortar, grout, gaps, borders) or engraved veins.
    [InlineData(TextureFamily.Bricks)]
    [InlineData(TextureFamily.Tiles)]
    [InlineData(TextureFamily.Planks)]
    [InlineData(TextureFamily.Hexagons)]
    [InlineData(TextureFamily.Cobblestones)]
    [InlineData(TextureFamily.Marble)]
    public void JointsLieBelowTheElementsTheySeparate(TextureFamily family)
    {
        var (low, high) = MeanHeights(family, s => s.T > 0.5, s => s.T < 0.5);
        Assert.True(low + 0.15 < high, $"{family}: joints at {low:0.000}, elements at {high:0.000}");
    }

    [Fact]
    public void RivetsStandAbovePlatesAndSeamsLieBelow()
    {
        // In the metal plates the second colour draws both seams (shade 0.8) and rivets (shade 1.1).
        var (seams, plates) = MeanHeights(TextureFamily.MetalPlates, s => s.T > 0.5 && s.Shade < 1, s => s.T < 0.5);
        var (_, rivets) = MeanHeights(TextureFamily.MetalPlates, s => s.T < 0.5, s => s.T > 0.5 && s.Shade > 1);
        Assert.True(seams + 0.1 < plates && plates + 0.2 < rivets, $"seams {seams:0.000}, plates {plates:0.000}, rivets {rivets:0.000}");
        var (background, dots) = MeanHeights(TextureFamily.PolkaDots, s => s.T > 0.5, s => s.T < 0.5);
        Assert.True(background + 0.2 < dots, $"polka dots at {dots:0.000} over a background at {background:0.000}");
    }

    [Fact]
    public void EveryFamilyHasRelief()
    {
        foreach (var family in Enum.GetValues<TextureFamily>())
        {
            var spec = new TextureSpec(family, 0, 9, TextureScale.Medium, TextureOrientation.Horizontal, false, false, 4);
            var heights = new float[64 * 64];
            TextureRenderer.Render(spec, 64, new PixelWindow(0, 0, 64, 64), new byte[64 * 64 * 3], heights);
            double mean = heights.Average(), deviation = Math.Sqrt(heights.Average(h => (h - mean) * (h - mean)));
            Assert.True(deviation > 0.03, $"{family}: height deviation {deviation:0.0000}");
        }
    }

    // Mean height over the points of a 64×64 grid of two textures of the family where each predicate holds.
    private static (double A, double B) MeanHeights(TextureFamily family, Func<Surface, bool> a, Func<Surface, bool> b)
    {
        double sumA = 0, sumB = 0;
        int countA = 0, countB = 0;
        foreach (bool thick in new[] { false, true })
        {
            var spec = new TextureSpec(family, 0, 9, TextureScale.Medium, TextureOrientation.Horizontal, true, thick, 21);
            for (int y = 0; y < 64; y++)
                for (int x = 0; x < 64; x++)
                {
                    var s = TextureRenderer.SampleSurface(spec, (x + 0.5) / 64, (y + 0.5) / 64);
                    if (a(s)) { sumA += s.Height; countA++; }
                    if (b(s)) { sumB += s.Height; countB++; }
                }
        }
        Assert.True(countA > 0 && countB > 0, $"{family}: one of the two regions is empty ({countA}, {countB} points)");
        return (sumA / countA, sumB / countB);
    }
}
