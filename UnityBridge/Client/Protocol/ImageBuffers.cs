using System;
using System.Buffers;
using System.Collections.Generic;
using MessagePack;
using MessagePack.Formatters;

namespace EDiffI.Bridge.Protocol;

/// <summary>
/// Reuses the large pixel arrays of results. A result's <see cref="GenerateResult.Rgba"/> is the
/// caller's to keep; a caller that is done with it (the pixels are in a texture) may hand it back
/// with <see cref="Return"/>, and the next result of the same size is read into it instead of a
/// fresh array (which for a 1024² image saves allocating, zeroing and later collecting 4 MiB).
/// </summary>
public static class ImageBuffers
{
    private const int MaxKept = 8;
    private const int MinPooledLength = 64 * 1024;
    private static readonly List<byte[]> Kept = new();

    /// <summary>An array of exactly <paramref name="length"/> bytes, reused when one was returned.</summary>
    public static byte[] Rent(int length)
    {
        if (length >= MinPooledLength)
        {
            lock (Kept)
            {
                int i = Kept.FindIndex(a => a.Length == length);
                if (i >= 0)
                {
                    var array = Kept[i];
                    Kept.RemoveAt(i);
                    return array;
                }
            }
        }
        return length == 0 ? Array.Empty<byte>() : new byte[length];
    }

    /// <summary>Hands back a result's pixels for reuse; the caller must not touch <paramref name="array"/> afterwards.</summary>
    public static void Return(byte[]? array)
    {
        if (array is null || array.Length < MinPooledLength) return;
        lock (Kept)
        {
            if (Kept.Exists(a => ReferenceEquals(a, array))) return;
            if (Kept.Count >= MaxKept) Kept.RemoveAt(0);
            Kept.Add(array);
        }
    }
}

/// <summary>Reads a MessagePack bin into an array from <see cref="ImageBuffers"/>; writes it as usual.</summary>
public sealed class PooledBytesFormatter : IMessagePackFormatter<byte[]>
{
    /// <inheritdoc />
    public void Serialize(ref MessagePackWriter writer, byte[] value, MessagePackSerializerOptions options) => writer.Write(value);

    /// <inheritdoc />
    public byte[] Deserialize(ref MessagePackReader reader, MessagePackSerializerOptions options)
    {
        var bytes = reader.ReadBytes();
        if (bytes is not { } sequence) return Array.Empty<byte>();
        var array = ImageBuffers.Rent(checked((int)sequence.Length));
        sequence.CopyTo(array);
        return array;
    }
}
