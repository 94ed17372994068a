using System;
using System.Buffers;
using System.Buffers.Binary;
using System.IO;
using System.Threading;
using System.Threading.Tasks;
using MessagePack;

namespace EDiffI.Bridge.Protocol;

/// <summary>
/// How messages are encoded: MessagePack through the <see cref="BridgeMessage"/> union, read with
/// <see cref="MessagePackSecurity.UntrustedData"/> (bounded depth, collision-resistant hashing) and
/// the standard resolver (never Typeless: a frame can never name a .NET type to create).
/// </summary>
public static class BridgeSerializer
{
    /// <summary>Deepest object graph a frame may hold; the protocol's messages need fewer than 6 levels.</summary>
    public const int MaxDepth = 16;

    /// <summary>The options both sides read and write with.</summary>
    public static MessagePackSerializerOptions Options { get; } = MessagePackSerializerOptions.Standard
        .WithSecurity(MessagePackSecurity.UntrustedData.WithMaximumObjectGraphDepth(MaxDepth));

    /// <summary>Writes <paramref name="message"/> to <paramref name="writer"/>.</summary>
    public static void Write(IBufferWriter<byte> writer, BridgeMessage message) =>
        MessagePackSerializer.Serialize(writer, message, Options);

    /// <summary>The bytes of <paramref name="message"/> (without a frame header).</summary>
    public static byte[] ToBytes(BridgeMessage message) => MessagePackSerializer.Serialize(message, Options);

    /// <summary>
    /// Reads one message that must fill <paramref name="payload"/> exactly. Returns null and a
    /// reason for anything else: malformed MessagePack, an unknown union tag, a nil, trailing bytes.
    /// </summary>
    public static BridgeMessage? TryRead(ReadOnlyMemory<byte> payload, out string? problem)
    {
        try
        {
            var message = MessagePackSerializer.Deserialize<BridgeMessage>(payload, Options, out int read);
            if (message is null) problem = "the frame holds no known message";
            else if (read != payload.Length) problem = $"the frame has {payload.Length - read} bytes after its message";
            else
            {
                problem = null;
                return message;
            }
        }
#pragma warning disable CA1031 // any exception here is a malformed frame from an untrusted peer, answered with an error
        catch (Exception e)
#pragma warning restore CA1031
        {
            problem = "the frame is not a well-formed message (" + (e.InnerException ?? e).Message + ")";
        }
        return null;
    }
}

/// <summary>A frame whose length prefix breaks the rules; the stream cannot be read further.</summary>
public sealed class FrameException : Exception
{
    /// <summary>A frame error with a message.</summary>
    public FrameException(string message) : base(message) { }

    /// <summary>A frame error.</summary>
    public FrameException() { }

    /// <summary>A frame error with a message and a cause.</summary>
    public FrameException(string message, Exception inner) : base(message, inner) { }
}

/// <summary>
/// Reads length-prefixed frames: a 4-byte little-endian payload length, then the payload. Reads go
/// through a buffer so that many small frames cost few system calls; large payloads are read straight
/// into a pooled array.
/// </summary>
public sealed class FrameReader
{
    private readonly Stream _stream;
    private readonly int _maxFrameBytes;
    private readonly byte[] _buffer;
    private byte[]? _large;
    private int _start, _end;

    /// <summary>Reads frames of at most <paramref name="maxFrameBytes"/> payload bytes from <paramref name="stream"/>.</summary>
    public FrameReader(Stream stream, int maxFrameBytes, int bufferBytes = 64 * 1024)
    {
        _stream = stream;
        _maxFrameBytes = maxFrameBytes;
        _buffer = new byte[bufferBytes];
    }

    /// <summary>
    /// The next frame's payload, valid until it is disposed and at most until the next read; or
    /// null when the peer closed the stream between frames.
    /// </summary>
    /// <exception cref="FrameException">A length of 0 or over the limit, or the stream ended inside a frame.</exception>
    public async ValueTask<Frame?> ReadAsync(CancellationToken cancellationToken)
    {
        if (!await FillAsync(4, cancellationToken).ConfigureAwait(false))
        {
            if (_end == _start) return null;
            throw new FrameException("the connection ended inside a frame header");
        }
        uint length = BinaryPrimitives.ReadUInt32LittleEndian(_buffer.AsSpan(_start, 4));
        if (length == 0) throw new FrameException("a frame of length 0");
        if (length > (uint)_maxFrameBytes) throw new FrameException($"a frame of {length} bytes, over the limit of {_maxFrameBytes}");
        _start += 4;
        int size = (int)length;
        // Large payloads go into one array the reader keeps (renting multi-megabyte arrays costs more than the copy).
        bool own = size > _buffer.Length;
        if (own && (_large is null || _large.Length < size)) _large = new byte[size];
        var payload = own ? _large! : ArrayPool<byte>.Shared.Rent(size);
        int have = Math.Min(size, _end - _start);
        Buffer.BlockCopy(_buffer, _start, payload, 0, have);
        _start += have;
        while (have < size)
        {
            int n = await _stream.ReadAsync(payload.AsMemory(have, size - have), cancellationToken).ConfigureAwait(false);
            if (n == 0)
            {
                if (!own) ArrayPool<byte>.Shared.Return(payload);
                throw new FrameException("the connection ended inside a frame");
            }
            have += n;
        }
        return new Frame(payload, size, pooled: !own);
    }

    // Makes at least `count` bytes available at _start; false when the stream ended first.
    private async ValueTask<bool> FillAsync(int count, CancellationToken cancellationToken)
    {
        if (_end - _start >= count) return true;
        if (_start > 0)
        {
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
            _end -= _start;
            _start = 0;
        }
        while (_end < count)
        {
            int n = await _stream.ReadAsync(_buffer.AsMemory(_end, _buffer.Length - _end), cancellationToken).ConfigureAwait(false);
            if (n == 0) return false;
            _end += n;
        }
        return true;
    }
}

/// <summary>One frame's payload; dispose to give its array back.</summary>
public sealed class Frame : IDisposable
{
    private readonly bool _pooled;
    private byte[]? _array;

    internal Frame(byte[] array, int length, bool pooled)
    {
        _array = array;
        Length = length;
        _pooled = pooled;
    }

    /// <summary>Payload bytes.</summary>
    public int Length { get; }

    /// <summary>The payload.</summary>
    public ReadOnlyMemory<byte> Payload => _array is null ? throw new ObjectDisposedException(nameof(Frame)) : _array.AsMemory(0, Length);

    /// <inheritdoc />
    public void Dispose()
    {
        if (_array is null) return;
        if (_pooled) ArrayPool<byte>.Shared.Return(_array);
        _array = null;
    }
}

/// <summary>
/// Writes messages as length-prefixed frames, each in one write: the message is serialized behind
/// 4 reserved bytes of a buffer reused from frame to frame. Not thread-safe: one writer per stream.
/// </summary>
public sealed class FrameWriter : IBufferWriter<byte>
{
    private byte[] _buffer = new byte[4096];
    private int _written;

    /// <summary>Serializes <paramref name="message"/> into the buffer; returns the frame (header and payload).</summary>
    public ReadOnlyMemory<byte> Encode(BridgeMessage message)
    {
        _written = 4;
        BridgeSerializer.Write(this, message);
        BinaryPrimitives.WriteUInt32LittleEndian(_buffer, (uint)(_written - 4));
        return _buffer.AsMemory(0, _written);
    }

    /// <summary>
    /// Writes one message as a frame. The pixels of a large <see cref="GenerateResult"/> are written
    /// from their own array rather than copied into the frame buffer first: the message is encoded
    /// with a 16-byte marker in their place, and the frame goes out as the bytes before the marker,
    /// the pixels under a bin32 header, and the bytes after it.
    /// </summary>
    public async ValueTask WriteAsync(Stream stream, BridgeMessage message, CancellationToken cancellationToken)
    {
        if (message is GenerateResult result && result.Rgba is { Length: >= GatherThreshold } pixels)
        {
            ReadOnlyMemory<byte> frame;
            result.Rgba = Marker;
            try
            {
                frame = Encode(message);
            }
            finally
            {
                result.Rgba = pixels;
            }
            // The marker is encoded as bin8: 0xC4, 16, then its bytes.
            int at = frame.Span.IndexOf(MarkerEncoded);
            if (at > 0 && frame.Span.Slice(at + 1).IndexOf(MarkerEncoded) < 0)
            {
                int after = at + MarkerEncoded.Length;
                long payload = (at - 4) + 5L + pixels.Length + (frame.Length - after);
                if (payload <= int.MaxValue)
                {
                    BinaryPrimitives.WriteUInt32LittleEndian(_buffer, (uint)payload);
                    _buffer[at] = 0xC6; // bin32, big-endian length
                    BinaryPrimitives.WriteUInt32BigEndian(_buffer.AsSpan(at + 1), (uint)pixels.Length);
                    await stream.WriteAsync(_buffer.AsMemory(0, at + 5), cancellationToken).ConfigureAwait(false);
                    await stream.WriteAsync(pixels.AsMemory(), cancellationToken).ConfigureAwait(false);
                    await stream.WriteAsync(_buffer.AsMemory(after, frame.Length - after), cancellationToken).ConfigureAwait(false);
                    return;
                }
            }
        }
        await stream.WriteAsync(Encode(message), cancellationToken).ConfigureAwait(false);
    }

    private const int GatherThreshold = 64 * 1024;
    private static readonly byte[] Marker = Guid.NewGuid().ToByteArray();
    private static readonly byte[] MarkerEncoded = MakeMarkerEncoded();

    private static byte[] MakeMarkerEncoded()
    {
        var encoded = new byte[2 + Marker.Length];
        encoded[0] = 0xC4;
        encoded[1] = (byte)Marker.Length;
        Marker.CopyTo(encoded, 2);
        return encoded;
    }

    /// <inheritdoc />
    public void Advance(int count) => _written += count;

    /// <inheritdoc />
    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return _buffer.AsMemory(_written);
    }

    /// <inheritdoc />
    public Span<byte> GetSpan(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return _buffer.AsSpan(_written);
    }

    private void Ensure(int sizeHint)
    {
        int need = _written + Math.Max(sizeHint, 256);
        if (need <= _buffer.Length) return;
        var bigger = new byte[Math.Max(need, _buffer.Length * 2)];
        Buffer.BlockCopy(_buffer, 0, bigger, 0, _written);
        _buffer = bigger;
    }
}
