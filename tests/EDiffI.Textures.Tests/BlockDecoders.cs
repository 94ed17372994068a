namespace EDiffI.Textures.Tests;

/// <summary>
/// Decoders for the block formats, written from Microsoft's BC1, BC4/BC5 and BC7 format descriptions, independent of
/// the encoders under test. BC7: mode 6, the one the encoder writes (other modes are refused).
/// </summary>
public static class BlockDecoders
{
    /// <summary>RGBA8 pixels of a <paramref name="width"/> × <paramref name="height"/> level from its blocks.</summary>
    public static byte[] Decode(TextureFormat format, byte[] blocks, int width, int height)
    {
        int bx = (width + 3) / 4, by = (height + 3) / 4, size = EncodedTexture.BlockBytes(format);
        if (blocks.Length != bx * by * size) throw new ArgumentException($"expected {bx * by * size} bytes of blocks, got {blocks.Length}");
        var rgba = new byte[width * height * 4];
        var block = new byte[64];
        for (int y = 0; y < by; y++)
            for (int x = 0; x < bx; x++)
            {
                var src = blocks.AsSpan((y * bx + x) * size, size);
                switch (format)
                {
                    case TextureFormat.Bc1: Bc1(src, block); break;
                    case TextureFormat.Bc5: Bc5(src, block); break;
                    case TextureFormat.Bc7: Bc7(src, block); break;
                    default: throw new ArgumentException($"{format} has no blocks");
                }
                for (int i = 0; i < 16; i++)
                {
                    int px = x * 4 + (i & 3), py = y * 4 + (i >> 2);
                    if (px < width && py < height) block.AsSpan(i * 4, 4).CopyTo(rgba.AsSpan((py * width + px) * 4));
                }
            }
        return rgba;
    }

    private static (int R, int G, int B) Rgb565(int v)
    {
        int r = (v >> 11) & 31, g = (v >> 5) & 63, b = v & 31;
        return ((r << 3) | (r >> 2), (g << 2) | (g >> 4), (b << 3) | (b >> 2));
    }

    /// <summary>BC1: two 5:6:5 endpoints; four colours when color0 &gt; color1, else three and transparent black.</summary>
    public static void Bc1(ReadOnlySpan<byte> s, Span<byte> rgba)
    {
        int c0 = s[0] | (s[1] << 8), c1 = s[2] | (s[3] << 8);
        uint bits = (uint)(s[4] | (s[5] << 8) | (s[6] << 16) | (s[7] << 24));
        var (r0, g0, b0) = Rgb565(c0);
        var (r1, g1, b1) = Rgb565(c1);
        Span<int> pal = stackalloc int[16];
        pal[0] = r0; pal[1] = g0; pal[2] = b0; pal[3] = 255;
        pal[4] = r1; pal[5] = g1; pal[6] = b1; pal[7] = 255;
        for (int c = 0; c < 3; c++)
        {
            int a = pal[c], b = pal[4 + c];
            if (c0 > c1)
            {
                pal[8 + c] = (int)Math.Round((2.0 * a + b) / 3);
                pal[12 + c] = (int)Math.Round((a + 2.0 * b) / 3);
            }
            else
            {
                pal[8 + c] = (int)Math.Round((a + b) / 2.0);
                pal[12 + c] = 0;
            }
        }
        pal[11] = 255;
        pal[15] = c0 > c1 ? 255 : 0;
        for (int i = 0; i < 16; i++)
        {
            int k = (int)((bits >> (2 * i)) & 3);
            for (int c = 0; c < 4; c++) rgba[i * 4 + c] = (byte)pal[k * 4 + c];
        }
    }

    /// <summary>BC4 (one channel) into channel <paramref name="channel"/> of 16 RGBA pixels.</summary>
    public static void Bc4(ReadOnlySpan<byte> s, Span<byte> rgba, int channel)
    {
        int r0 = s[0], r1 = s[1];
        Span<int> pal = stackalloc int[8];
        pal[0] = r0; pal[1] = r1;
        if (r0 > r1)
            for (int k = 2; k < 8; k++) pal[k] = (int)Math.Round(((8 - k) * r0 + (k - 1) * r1) / 7.0);
        else
        {
            for (int k = 2; k < 6; k++) pal[k] = (int)Math.Round(((6 - k) * r0 + (k - 1) * r1) / 5.0);
            pal[6] = 0; pal[7] = 255;
        }
        ulong bits = 0;
        for (int i = 0; i < 6; i++) bits |= (ulong)s[2 + i] << (8 * i);
        for (int i = 0; i < 16; i++) rgba[i * 4 + channel] = (byte)pal[(int)((bits >> (3 * i)) & 7)];
    }

    /// <summary>BC5: BC4 red then BC4 green; blue and alpha are left 0 and 255 (z is rebuilt by the reader).</summary>
    public static void Bc5(ReadOnlySpan<byte> s, Span<byte> rgba)
    {
        for (int i = 0; i < 16; i++) { rgba[i * 4 + 2] = 0; rgba[i * 4 + 3] = 255; }
        Bc4(s[..8], rgba, 0);
        Bc4(s[8..16], rgba, 1);
    }

    private sealed class BitReader(byte[] bytes)
    {
        private int _pos;
        public int Read(int count)
        {
            int v = 0;
            for (int i = 0; i < count; i++, _pos++) v |= ((bytes[_pos >> 3] >> (_pos & 7)) & 1) << i;
            return v;
        }
    }

    private static readonly int[] Weights4 = [0, 4, 9, 13, 17, 21, 26, 30, 34, 38, 43, 47, 51, 55, 60, 64];

    private static int Interpolate(int e0, int e1, int w) => ((64 - w) * e0 + w * e1 + 32) >> 6;

    /// <summary>The BC7 mode of a block: the number of 0 bits before the first 1 (8 for the reserved pattern).</summary>
    public static int Bc7Mode(ReadOnlySpan<byte> s)
    {
        for (int m = 0; m < 8; m++) if (((s[0] >> m) & 1) == 1) return m;
        return 8;
    }

    /// <summary>BC7 mode 6: RGBA endpoints of 7 bits and a p-bit each, 4-bit indices, the anchor's with 3; other modes throw.</summary>
    public static void Bc7(ReadOnlySpan<byte> s, Span<byte> rgba)
    {
        int mode = Bc7Mode(s);
        var r = new BitReader(s.ToArray());
        r.Read(mode + 1);
        if (mode == 6)
        {
            var e = new int[2, 4];
            for (int c = 0; c < 4; c++) { e[0, c] = r.Read(7); e[1, c] = r.Read(7); }
            int p0 = r.Read(1), p1 = r.Read(1);
            for (int c = 0; c < 4; c++) { e[0, c] = (e[0, c] << 1) | p0; e[1, c] = (e[1, c] << 1) | p1; }
            for (int i = 0; i < 16; i++)
            {
                int k = r.Read(i == 0 ? 3 : 4);
                for (int c = 0; c < 4; c++) rgba[i * 4 + c] = (byte)Interpolate(e[0, c], e[1, c], Weights4[k]);
            }
            return;
        }
        throw new NotSupportedException($"the test decoder reads BC7 mode 6, the encoder's mode, not mode {mode}");
    }
}
