using System.Buffers.Binary;

namespace EDiffI.Textures.Tests;

/// <summary>KTX2 and DDS files read back, by readers written here from the specifications, with the expected header, format and levels.</summary>
public sealed class ContainerTests
{
    private static EncodedTexture Texture(TextureFormat format, bool srgb, int w, int h)
    {
        var levels = new List<byte[]>();
        for (int k = 0; k < TextureMath.LevelCount(w, h); k++)
        {
            var level = new byte[EncodedTexture.LevelBytes(format, Math.Max(1, w >> k), Math.Max(1, h >> k))];
            for (int i = 0; i < level.Length; i++) level[i] = (byte)(k * 31 + i);
            levels.Add(level);
        }
        return new EncodedTexture(format, srgb, w, h, levels);
    }

    [Theory]
    [InlineData(TextureFormat.Bc7, true, 146, 133)]
    [InlineData(TextureFormat.Bc7, false, 145, 133)]
    [InlineData(TextureFormat.Bc1, true, 132, 128)]
    [InlineData(TextureFormat.Bc5, false, 141, 131)]
    [InlineData(TextureFormat.Rgba8, true, 43, 1)]
    public void Ktx2HeaderFormatLevelsAndTransfer(TextureFormat format, bool srgb, int vkFormat, int colorModel)
    {
        var t = Texture(format, srgb, 64, 32);
        var f = Ktx2File.ToBytes(t);
        Assert.True(f.AsSpan(0, 12).SequenceEqual(Ktx2File.Identifier));
        uint U32(int o) => BinaryPrimitives.ReadUInt32LittleEndian(f.AsSpan(o));
        ulong U64(int o) => BinaryPrimitives.ReadUInt64LittleEndian(f.AsSpan(o));
        Assert.Equal((uint)vkFormat, U32(12));
        Assert.Equal(64u, U32(20));
        Assert.Equal(32u, U32(24));
        Assert.Equal(1u, U32(36)); // faces
        Assert.Equal(7u, U32(40)); // levels 64×32 … 1×1
        Assert.Equal(0u, U32(44)); // no supercompression
        int dfd = (int)U32(48);
        Assert.Equal((uint)colorModel, (uint)f[dfd + 12]);
        Assert.Equal(srgb ? 2 : 1, f[dfd + 14]); // KHR_DF_TRANSFER_SRGB or LINEAR
        long previousOffset = long.MaxValue;
        for (int k = 0; k < 7; k++)
        {
            long offset = (long)U64(80 + 24 * k), length = (long)U64(88 + 24 * k);
            Assert.Equal(t.Levels[k].Length, length);
            Assert.True(f.AsSpan((int)offset, (int)length).SequenceEqual(t.Levels[k]));
            Assert.Equal(0, offset % EncodedTexture.BlockBytes(format) % 4);
            Assert.True(offset < previousOffset, "levels are stored smallest first");
            previousOffset = offset;
        }
    }

    [Theory]
    [InlineData(TextureFormat.Bc7, true, 99)]
    [InlineData(TextureFormat.Bc1, false, 71)]
    [InlineData(TextureFormat.Bc5, false, 83)]
    [InlineData(TextureFormat.Rgba8, false, 28)]
    public void DdsHeaderFormatAndLevels(TextureFormat format, bool srgb, int dxgi)
    {
        var t = Texture(format, srgb, 16, 16);
        var f = DdsFile.ToBytes(t);
        uint U32(int o) => BinaryPrimitives.ReadUInt32LittleEndian(f.AsSpan(o));
        Assert.Equal("DDS "u8.ToArray(), f[..4]);
        Assert.Equal(124u, U32(4));
        Assert.Equal(16u, U32(12)); // height
        Assert.Equal(16u, U32(16)); // width
        Assert.Equal(5u, U32(28)); // mip count
        Assert.Equal("DX10"u8.ToArray(), f[84..88]);
        Assert.Equal((uint)dxgi, U32(128));
        Assert.Equal(3u, U32(132)); // TEXTURE2D
        int at = 148;
        foreach (var level in t.Levels)
        {
            Assert.True(f.AsSpan(at, level.Length).SequenceEqual(level));
            at += level.Length;
        }
        Assert.Equal(f.Length, at);
    }

    [Fact]
    public void ALevelOfTheWrongSizeIsRefused()
    {
        var t = new EncodedTexture(TextureFormat.Bc1, true, 8, 8, [new byte[32], new byte[7]]);
        var e = Assert.Throws<ArgumentException>(() => Ktx2File.ToBytes(t));
        Assert.Contains("Level 1", e.Message);
    }
}
