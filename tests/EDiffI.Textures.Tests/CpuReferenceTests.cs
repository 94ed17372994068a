namespace EDiffI.Textures.Tests;

/// <summary>The CPU reference against closed forms: no GPU needed.</summary>
public sealed class CpuReferenceTests
{
    [Fact]
    public void SobelOfARampIsItsSlopeInHeightPerPixel()
    {
        const int w = 16, h = 8;
        var height = new float[w * h];
        for (int y = 0; y < h; y++) for (int x = 0; x < w; x++) height[y * w + x] = 0.01f * x - 0.02f * y; // rises to the right and to the top
        var rgb = NormalMaps.FromHeight(height, w, h, 2f, false, false, NormalConvention.OpenGL);
        // Interior pixel: dh/dx = 0.01, dh/dy (toward the top) = +0.02, so n ∝ (−0.02, −0.04, 1).
        int o = (4 * w + 8) * 3;
        var n = NormalMaps.Decode(rgb[o], rgb[o + 1], rgb[o + 2]);
        Assert.True(TestImages.AngleDegrees((n.X, n.Y, n.Z), (-0.02, -0.04, 1)) < 0.01);
        var dx = NormalMaps.FromHeight(height, w, h, 2f, false, false, NormalConvention.DirectX);
        Assert.Equal(rgb[o], dx[o], 6);
        Assert.Equal(1 - rgb[o + 1], dx[o + 1], 5); // green flipped
    }

    [Fact]
    public void WrapReachesAcrossTheEdgeAndClampDoesNot()
    {
        const int w = 8, h = 4;
        var height = new float[w * h];
        for (int y = 0; y < h; y++) height[y * w + w - 1] = 1; // a ridge on the last column
        var wrap = NormalMaps.FromHeight(height, w, h, 1, true, true, NormalConvention.OpenGL);
        var clamp = NormalMaps.FromHeight(height, w, h, 1, false, false, NormalConvention.OpenGL);
        // Column 0's left neighbour is the ridge when wrapping: the slope falls to the right, so x tilts positive.
        Assert.True(wrap[(1 * w) * 3] > 0.55f);
        Assert.Equal(0.5f, clamp[(1 * w) * 3], 5);
    }

    [Fact]
    public void ColourMipsAverageInLinearLight()
    {
        // A checkerboard of black and white averages to linear 0.5, sRGB ≈ 0.735, not 0.5.
        var image = new TextureImage(4, 4);
        for (int i = 0; i < 16; i++)
        {
            float v = ((i % 4) + (i / 4)) % 2;
            image.Pixels[i * 4] = image.Pixels[i * 4 + 1] = image.Pixels[i * 4 + 2] = v;
            image.Pixels[i * 4 + 3] = 1;
        }
        var chain = TextureMath.MipChain(image, TextureKind.Color, true, true);
        Assert.Equal(3, chain.Count);
        Assert.Equal(TextureMath.LinearToSrgb(0.5f), chain[1].Pixels[0], 4);
        Assert.Equal(0.5f, TextureMath.MipChain(image, TextureKind.Linear, true, true)[1].Pixels[0], 4);
        Assert.Equal((1, 1), (chain[2].Width, chain[2].Height));
    }

    [Fact]
    public void NormalMipsStayUnitLength()
    {
        var height = new float[32 * 32];
        for (int i = 0; i < height.Length; i++) height[i] = (float)(0.5 + 0.5 * Math.Sin(i * 0.37) * Math.Cos(i * 0.11));
        var normals = NormalMaps.FromHeightImage(height, 32, 32, 4, true, true, NormalConvention.OpenGL);
        foreach (var level in TextureMath.MipChain(normals, TextureKind.Normal, true, true).Skip(1))
            for (int i = 0; i < level.Pixels.Length; i += 4)
            {
                double x = level.Pixels[i] * 2 - 1, y = level.Pixels[i + 1] * 2 - 1, z = level.Pixels[i + 2] * 2 - 1;
                Assert.InRange(Math.Sqrt(x * x + y * y + z * z), 0.999, 1.001);
            }
    }

    [Fact]
    public void BadInputsAreRefusedWithTheirSizes()
    {
        var e = Assert.Throws<ArgumentException>(() => NormalMaps.FromHeight(new float[10], 4, 4, 1, false, false, NormalConvention.OpenGL));
        Assert.Contains("16", e.Message);
        Assert.Throws<ArgumentException>(() => new TextureImage(0, 4));
    }
}
