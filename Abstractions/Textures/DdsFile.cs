using System.Buffers.Binary;

namespace EDiffI.Textures;

/// <summary>
/// Writes DDS files with the DX10 extension header (Microsoft's DDS_HEADER and DDS_HEADER_DXT10), which names the
/// DXGI format exactly, sRGB included; every mip level follows, level 0 first.
/// </summary>
public static class DdsFile
{
    /// <summary>Writes <paramref name="texture"/> to <paramref name="path"/>.</summary>
    public static void Write(string path, EncodedTexture texture) => File.WriteAllBytes(path, ToBytes(texture));

    /// <summary>The file's bytes.</summary>
    public static byte[] ToBytes(EncodedTexture texture)
    {
        ArgumentNullException.ThrowIfNull(texture);
        texture.Validate();
        long data = texture.Levels.Sum(l => (long)l.Length);
        var file = new byte[4 + 124 + 20 + data];
        var s = file.AsSpan();
        "DDS "u8.CopyTo(s);
        var h = s[4..];
        const uint caps = 0x1, height = 0x2, width = 0x4, pixelFormat = 0x1000, mipCount = 0x20000, linearSize = 0x80000, pitch = 0x8;
        bool block = EncodedTexture.IsBlock(texture.Format);
        W(h, 0, 124);
        W(h, 4, caps | height | width | pixelFormat | mipCount | (block ? linearSize : pitch));
        W(h, 8, (uint)texture.Height);
        W(h, 12, (uint)texture.Width);
        W(h, 16, (uint)(block ? texture.Levels[0].Length : texture.Width * 4)); // linear size of level 0, or row pitch
        W(h, 20, 0); // depth
        W(h, 24, (uint)texture.Levels.Count);
        // DDS_PIXELFORMAT at 72: size 32, DDPF_FOURCC, "DX10".
        W(h, 72, 32);
        W(h, 76, 0x4);
        "DX10"u8.CopyTo(h[80..]);
        const uint texture_ = 0x1000, complex = 0x8, mipmap = 0x400000;
        W(h, 104, texture_ | (texture.Levels.Count > 1 ? complex | mipmap : 0));
        var dx10 = s[128..];
        W(dx10, 0, (uint)texture.DxgiFormat);
        W(dx10, 4, 3); // D3D10_RESOURCE_DIMENSION_TEXTURE2D
        W(dx10, 8, 0); // miscFlag
        W(dx10, 12, 1); // arraySize
        W(dx10, 16, 1); // miscFlags2: DDS_ALPHA_MODE_STRAIGHT
        int at = 148;
        foreach (var level in texture.Levels)
        {
            level.CopyTo(s[at..]);
            at += level.Length;
        }
        return file;
    }

    private static void W(Span<byte> s, int offset, uint value) => BinaryPrimitives.WriteUInt32LittleEndian(s[offset..], value);
}
