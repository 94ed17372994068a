using EDiffI.IO;
using System.Buffers.Binary;
using System.Text.Json.Nodes;
using static TorchSharp.torch;

namespace EDiffI.Plugins.T5;

/// <summary>
/// Writes a safetensors file tensor by tensor: the header (names, dtypes, shapes, offsets) first, then
/// each tensor's bytes as it is produced, so a file larger than memory can be written.
/// </summary>
public sealed class SafeTensorsStreamWriter : IDisposable
{
    private readonly FileStream _stream;
    private readonly List<(string Name, ScalarType DType, long[] Shape)> _layout;
    private int _next;

    /// <summary>Creates <paramref name="path"/> for the given tensors, in this order.</summary>
    public SafeTensorsStreamWriter(string path, IReadOnlyList<(string Name, ScalarType DType, long[] Shape)> layout)
    {
        _layout = layout.ToList();
        var header = new JsonObject { ["__metadata__"] = new JsonObject { ["format"] = "pt" } };
        long offset = 0;
        foreach (var (name, dtype, shape) in _layout)
        {
            long bytes = shape.Aggregate(1L, (a, b) => a * b) * SafeTensorsHeader.ElementSize(dtype);
            header[name] = new JsonObject
            {
                ["dtype"] = SafeTensorsHeader.NameOf(dtype),
                ["shape"] = new JsonArray(shape.Select(s => (JsonNode)s).ToArray()),
                ["data_offsets"] = new JsonArray(offset, offset + bytes),
            };
            offset += bytes;
        }
        var json = System.Text.Encoding.UTF8.GetBytes(header.ToJsonString());
        int padded = (json.Length + 7) / 8 * 8; // the data starts 8-aligned
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        _stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
        Span<byte> prefix = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)padded);
        _stream.Write(prefix);
        _stream.Write(json);
        for (int i = json.Length; i < padded; i++) _stream.WriteByte((byte)' ');
    }

    /// <summary>Writes the next tensor of the layout (CPU, contiguous, its declared dtype and shape).</summary>
    public void Write(Tensor tensor)
    {
        if (_next >= _layout.Count) throw new InvalidOperationException("every tensor of the layout is already written");
        var (name, dtype, shape) = _layout[_next];
        if (tensor.dtype != dtype || !tensor.shape.SequenceEqual(shape))
            throw new ArgumentException($"{name} should be {dtype} [{string.Join(", ", shape)}], got {tensor.dtype} [{string.Join(", ", tensor.shape)}]");
        using var cpu = tensor.cpu().contiguous();
        _stream.Write(cpu.bytes);
        _next++;
    }

    /// <summary>Checks that every tensor of the layout was written and flushes the file to disk.</summary>
    public void Complete()
    {
        if (_next != _layout.Count) throw new InvalidOperationException($"only {_next} of {_layout.Count} tensors were written");
        _stream.Flush(flushToDisk: true);
    }

    /// <summary>Closes the file.</summary>
    public void Dispose() => _stream.Dispose();
}
