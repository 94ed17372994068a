using System.Buffers.Binary;
using System.Text;

namespace EDiffI.Textures;

/// <summary>
/// Writes KTX 2.0 files (Khronos KTX 2.0 specification): the identifier, the header with the VkFormat, a level index,
/// a basic data format descriptor (DFD) for the format and its transfer function (sRGB or linear), one key/value pair
/// (KTXwriter), and the levels' data without supercompression, placed smallest level first as the specification asks.
/// </summary>
public static class Ktx2File
{
    /// <summary>The 12-byte file identifier «KTX 20».</summary>
    public static ReadOnlySpan<byte> Identifier => [0xAB, 0x4B, 0x54, 0x58, 0x20, 0x32, 0x30, 0xBB, 0x0D, 0x0A, 0x1A, 0x0A];

    /// <summary>Writes <paramref name="texture"/> to <paramref name="path"/>.</summary>
    public static void Write(string path, EncodedTexture texture)
    {
        var bytes = ToBytes(texture);
        File.WriteAllBytes(path, bytes);
    }

    /// <summary>The file's bytes.</summary>
    public static byte[] ToBytes(EncodedTexture texture)
    {
        ArgumentNullException.ThrowIfNull(texture);
        texture.Validate();
        int levels = texture.Levels.Count;
        var dfd = DataFormatDescriptor(texture);
        var kvd = KeyValue("KTXwriter", "EDiffI texture path");
        const int headerBytes = 12 + 9 * 4 + 4 * 4 + 2 * 8;
        int levelIndexBytes = levels * 24;
        int dfdOffset = headerBytes + levelIndexBytes;
        int kvdOffset = dfdOffset + dfd.Length;
        int dataStart = kvdOffset + kvd.Length;
        int align = EncodedTexture.IsBlock(texture.Format) ? EncodedTexture.BlockBytes(texture.Format) : 4; // lcm(texel block size, 4)
        // Smallest level first in the data; the index lists level 0 first.
        var offsets = new long[levels];
        long at = dataStart;
        for (int i = levels - 1; i >= 0; i--)
        {
            at = (at + align - 1) / align * align;
            offsets[i] = at;
            at += texture.Levels[i].Length;
        }
        var file = new byte[at];
        var s = file.AsSpan();
        Identifier.CopyTo(s);
        int p = 12;
        void U32(uint v) { BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(p), v); p += 4; }
        void U64(ulong v) { BinaryPrimitives.WriteUInt64LittleEndian(file.AsSpan(p), v); p += 8; }
        U32((uint)texture.VkFormat);
        U32(1); // typeSize: 1 for block-compressed and 8-bit formats
        U32((uint)texture.Width);
        U32((uint)texture.Height);
        U32(0); // pixelDepth: a 2D texture
        U32(0); // layerCount: not an array
        U32(1); // faceCount
        U32((uint)levels);
        U32(0); // supercompressionScheme: none
        U32((uint)dfdOffset);
        U32((uint)dfd.Length);
        U32((uint)kvdOffset);
        U32((uint)kvd.Length);
        U64(0); // no supercompression global data
        U64(0);
        for (int i = 0; i < levels; i++)
        {
            U64((ulong)offsets[i]);
            U64((ulong)texture.Levels[i].Length);
            U64((ulong)texture.Levels[i].Length); // uncompressedByteLength equals byteLength without supercompression
        }
        dfd.CopyTo(s[dfdOffset..]);
        kvd.CopyTo(s[kvdOffset..]);
        for (int i = 0; i < levels; i++) texture.Levels[i].CopyTo(s[(int)offsets[i]..]);
        return file;
    }

    // Khronos Data Format Specification 1.3, basic descriptor block (version 2).
    private static byte[] DataFormatDescriptor(EncodedTexture t)
    {
        // (bitOffset, bitLength, channelType with qualifier bits in its top nibble)
        (int Offset, int Length, int Channel)[] samples = t.Format switch
        {
            TextureFormat.Rgba8 => [(0, 8, 0), (8, 8, 1), (16, 8, 2), (24, 8, 15 | (t.Srgb ? 0x10 : 0))], // alpha is linear under sRGB
            TextureFormat.Bc5 => [(0, 64, 0), (64, 64, 1)],
            TextureFormat.Bc1 => [(0, 64, 0)],
            _ => [(0, 128, 0)],
        };
        int colorModel = t.Format switch { TextureFormat.Rgba8 => 1, TextureFormat.Bc1 => 128, TextureFormat.Bc5 => 131, _ => 133 };
        int blockSize = 24 + 16 * samples.Length;
        var d = new byte[4 + blockSize];
        var s = d.AsSpan();
        BinaryPrimitives.WriteUInt32LittleEndian(s, (uint)d.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(s[4..], 0); // vendorId 0 (Khronos), descriptorType 0 (basic)
        BinaryPrimitives.WriteUInt32LittleEndian(s[8..], 2u | ((uint)blockSize << 16)); // versionNumber 2, descriptorBlockSize
        s[12] = (byte)colorModel;
        s[13] = 1; // primaries BT.709
        s[14] = (byte)(t.Srgb ? 2 : 1); // transfer: sRGB or linear
        s[15] = 0; // flags: straight alpha
        bool block = EncodedTexture.IsBlock(t.Format);
        s[16] = (byte)(block ? 3 : 0); // texel block dimensions minus one
        s[17] = (byte)(block ? 3 : 0);
        s[20] = (byte)EncodedTexture.BlockBytes(t.Format); // bytesPlane0
        for (int i = 0; i < samples.Length; i++)
        {
            var o = s[(28 + 16 * i)..];
            var (offset, length, channel) = samples[i];
            BinaryPrimitives.WriteUInt32LittleEndian(o, (uint)offset | ((uint)(length - 1) << 16) | ((uint)channel << 24));
            BinaryPrimitives.WriteUInt32LittleEndian(o[4..], 0); // sample position 0
            BinaryPrimitives.WriteUInt32LittleEndian(o[8..], 0); // sampleLower
            BinaryPrimitives.WriteUInt32LittleEndian(o[12..], block ? uint.MaxValue : 255u); // sampleUpper
        }
        return d;
    }

    private static byte[] KeyValue(string key, string value)
    {
        var kv = Encoding.UTF8.GetBytes(key + "\0" + value + "\0");
        var entry = new byte[(4 + kv.Length + 3) / 4 * 4];
        BinaryPrimitives.WriteUInt32LittleEndian(entry, (uint)kv.Length);
        kv.CopyTo(entry, 4);
        return entry;
    }
}
