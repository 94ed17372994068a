#nullable enable
using System;
using System.Collections.Generic;
using System.IO;
using System.IO.Compression;
using System.Text;

namespace EDiffI.Bridge.Unity.Editor
{
    /// <summary>
    /// Writes PNG files (RGBA8, or 16-bit grey for height maps) with iTXt text chunks, from pixels with the top row first
    /// (the bridge's order, which is also PNG's). Unity's EncodeToPNG writes no text chunks and no 16-bit grey, so the
    /// package writes its own. Plain C#, so the tests run it; safe on any thread.
    /// </summary>
    public static class PngFile
    {
        private static readonly byte[] Signature = { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A };
        private static readonly uint[] CrcTable = MakeCrcTable();

        /// <summary>A PNG of RGBA8 pixels (4 bytes a pixel, top row first), with <paramref name="text"/> as iTXt chunks.</summary>
        public static byte[] Rgba8(byte[] rgba, int width, int height, IReadOnlyList<KeyValuePair<string, string>>? text = null)
        {
            if (rgba == null) throw new ArgumentNullException(nameof(rgba));
            CheckSize(width, height, rgba.Length, 4);
            return Encode(width, height, bitDepth: 8, colourType: 6, rowBytes: width * 4, (row, y) => Buffer.BlockCopy(rgba, y * width * 4, row, 0, width * 4), text);
        }

        /// <summary>A 16-bit grey PNG of <paramref name="littleEndian16"/> (2 bytes a pixel, little-endian, top row first, as the bridge sends heights).</summary>
        public static byte[] Grey16(byte[] littleEndian16, int width, int height, IReadOnlyList<KeyValuePair<string, string>>? text = null)
        {
            if (littleEndian16 == null) throw new ArgumentNullException(nameof(littleEndian16));
            CheckSize(width, height, littleEndian16.Length, 2);
            return Encode(width, height, bitDepth: 16, colourType: 0, rowBytes: width * 2, (row, y) =>
            {
                for (int x = 0; x < width; x++)
                {
                    int at = (y * width + x) * 2;
                    row[x * 2] = littleEndian16[at + 1]; // PNG samples are big-endian
                    row[x * 2 + 1] = littleEndian16[at];
                }
            }, text);
        }

        private static void CheckSize(int width, int height, int length, int bytesPerPixel)
        {
            if (width <= 0 || height <= 0 || (long)width * height * bytesPerPixel != length)
                throw new ArgumentException($"{width}×{height} at {bytesPerPixel} bytes a pixel needs {(long)Math.Max(0, width) * Math.Max(0, height) * bytesPerPixel} bytes, got {length}.");
        }

        private static byte[] Encode(int width, int height, byte bitDepth, byte colourType, int rowBytes, Action<byte[], int> fillRow,
            IReadOnlyList<KeyValuePair<string, string>>? text)
        {
            using var file = new MemoryStream();
            file.Write(Signature, 0, Signature.Length);
            var header = new byte[13];
            WriteBigEndian(header, 0, (uint)width);
            WriteBigEndian(header, 4, (uint)height);
            header[8] = bitDepth;
            header[9] = colourType;
            // 10-12: deflate, adaptive filtering, no interlace (all 0)
            WriteChunk(file, "IHDR", header);
            foreach (var entry in text ?? Array.Empty<KeyValuePair<string, string>>()) WriteChunk(file, "iTXt", TextChunk(entry.Key, entry.Value));
            WriteChunk(file, "IDAT", Compress(height, rowBytes, fillRow));
            WriteChunk(file, "IEND", Array.Empty<byte>());
            return file.ToArray();
        }

        // The image data: a zlib stream (RFC 1950) of the rows, each behind filter byte 0 (none).
        private static byte[] Compress(int height, int rowBytes, Action<byte[], int> fillRow)
        {
            using var zlib = new MemoryStream();
            zlib.WriteByte(0x78); // deflate, 32K window
            zlib.WriteByte(0x9C); // default level; 0x789C is a multiple of 31, as the header check asks
            uint a = 1, b = 0; // Adler-32 of the uncompressed bytes
            var row = new byte[rowBytes + 1];
            var pixels = new byte[rowBytes];
            using (var deflate = new DeflateStream(zlib, CompressionLevel.Fastest, leaveOpen: true))
            {
                for (int y = 0; y < height; y++)
                {
                    fillRow(pixels, y);
                    row[0] = 0;
                    Buffer.BlockCopy(pixels, 0, row, 1, rowBytes);
                    deflate.Write(row, 0, row.Length);
                    foreach (byte v in row)
                    {
                        a = (a + v) % 65521;
                        b = (b + a) % 65521;
                    }
                }
            }
            var adler = new byte[4];
            WriteBigEndian(adler, 0, (b << 16) | a);
            zlib.Write(adler, 0, 4);
            return zlib.ToArray();
        }

        // iTXt: keyword, NUL, compression flag 0, method 0, empty language tag, NUL, empty translated keyword, NUL, UTF-8 text.
        private static byte[] TextChunk(string keyword, string value)
        {
            if (string.IsNullOrEmpty(keyword) || keyword.Length > 79) throw new ArgumentException("a PNG text keyword has 1 to 79 characters", nameof(keyword));
            var data = new List<byte>(Encoding.ASCII.GetBytes(keyword)) { 0, 0, 0, 0, 0 };
            data.AddRange(Encoding.UTF8.GetBytes(value ?? ""));
            return data.ToArray();
        }

        private static void WriteChunk(Stream file, string type, byte[] data)
        {
            var head = new byte[8];
            WriteBigEndian(head, 0, (uint)data.Length);
            for (int i = 0; i < 4; i++) head[4 + i] = (byte)type[i];
            file.Write(head, 0, 8);
            file.Write(data, 0, data.Length);
            uint crc = 0xFFFFFFFF;
            for (int i = 4; i < 8; i++) crc = CrcTable[(crc ^ head[i]) & 0xFF] ^ (crc >> 8);
            foreach (byte v in data) crc = CrcTable[(crc ^ v) & 0xFF] ^ (crc >> 8);
            var tail = new byte[4];
            WriteBigEndian(tail, 0, crc ^ 0xFFFFFFFF);
            file.Write(tail, 0, 4);
        }

        private static void WriteBigEndian(byte[] buffer, int at, uint value)
        {
            buffer[at] = (byte)(value >> 24);
            buffer[at + 1] = (byte)(value >> 16);
            buffer[at + 2] = (byte)(value >> 8);
            buffer[at + 3] = (byte)value;
        }

        // The CRC-32 of ISO 3309 / ITU-T V.42 that PNG uses (reflected polynomial 0xEDB88320).
        private static uint[] MakeCrcTable()
        {
            var table = new uint[256];
            for (uint n = 0; n < 256; n++)
            {
                uint c = n;
                for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320 ^ (c >> 1) : c >> 1;
                table[n] = c;
            }
            return table;
        }
    }
}
