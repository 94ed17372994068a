using System.Buffers.Binary;
using System.Text.Json;
using static TorchSharp.torch;

namespace EDiffI.IO;

/// <summary>Where one tensor of a safetensors file lies.</summary>
/// <param name="Name">The tensor's name.</param>
/// <param name="DType">Its stored dtype.</param>
/// <param name="Shape">Its shape.</param>
/// <param name="Offset">Byte offset of its data from the start of the file.</param>
/// <param name="Length">Byte length of its data.</param>
public sealed record SafeTensorsEntry(string Name, ScalarType DType, long[] Shape, long Offset, long Length);

/// <summary>
/// The header of a safetensors file, read and checked before any tensor is: every path that opens a
/// safetensors file goes through <see cref="Read"/>, so a hostile or damaged file is refused in one
/// place with one kind of message. The checks are the format's own rules: a header of at most
/// <see cref="MaxHeaderBytes"/> that fits the file, known dtypes, byte counts that agree with dtype and
/// shape, and tensor ranges that tile the data block exactly (no overlap, no hole, nothing outside).
/// </summary>
public sealed class SafeTensorsHeader
{
    /// <summary>Largest header accepted, in bytes (the limit of the reference implementation).</summary>
    public const long MaxHeaderBytes = 100_000_000;

    private SafeTensorsHeader(string path, long dataStart, IReadOnlyList<SafeTensorsEntry> tensors) =>
        (Path, DataStart, Tensors) = (path, dataStart, tensors);

    /// <summary>The file the header was read from.</summary>
    public string Path { get; }

    /// <summary>Byte offset of the data block from the start of the file.</summary>
    public long DataStart { get; }

    /// <summary>Every tensor, in the order of their data.</summary>
    public IReadOnlyList<SafeTensorsEntry> Tensors { get; }

    /// <summary>Reads and checks the header of <paramref name="path"/>; reads none of the tensors' data.</summary>
    /// <exception cref="FileNotFoundException">When there is no such file.</exception>
    /// <exception cref="InvalidDataException">Naming the file and the first thing wrong with it.</exception>
    public static SafeTensorsHeader Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"No safetensors file at '{path}'.", path);
        using var stream = File.OpenRead(path);
        long fileLength = stream.Length;
        Span<byte> prefix = stackalloc byte[8];
        if (fileLength < 8 || stream.Read(prefix) != 8) throw Refuse(path, $"it has {fileLength} bytes, too few for the 8-byte header length");
        ulong declared = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (declared > MaxHeaderBytes)
            throw Refuse(path, $"its header length of {declared} bytes is over the {MaxHeaderBytes / 1_000_000} MB limit");
        long headerLength = (long)declared;
        if (headerLength < 2) throw Refuse(path, $"its header length of {headerLength} bytes is too small for a JSON header");
        if (8 + headerLength > fileLength)
            throw Refuse(path, $"its header length of {headerLength} bytes runs past the end of the file ({fileLength} bytes)");
        var header = new byte[headerLength];
        stream.ReadExactly(header);
        long dataStart = 8 + headerLength;
        return new SafeTensorsHeader(path, dataStart, Parse(path, header, fileLength - dataStart));
    }

    // Reads every entry of the header JSON, then checks that their ranges tile the data block.
    private static List<SafeTensorsEntry> Parse(string path, byte[] header, long dataLength)
    {
        JsonDocument document;
        try { document = JsonDocument.Parse(header); }
        catch (JsonException e) { throw Refuse(path, $"its header is not valid JSON ({e.Message})"); }
        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object) throw Refuse(path, "its header is not a JSON object");
            var ranges = new List<(SafeTensorsEntry Entry, long Begin, long End)>();
            var names = new HashSet<string>(StringComparer.Ordinal);
            foreach (var property in document.RootElement.EnumerateObject())
            {
                if (property.Name == "__metadata__") continue;
                if (!names.Add(property.Name)) throw Refuse(path, $"tensor '{property.Name}' is listed twice");
                ranges.Add(Entry(path, property.Name, property.Value, dataLength));
            }
            // The format's rule: the ranges, in order, cover the data block exactly once.
            ranges.Sort((a, b) => a.Begin != b.Begin ? a.Begin.CompareTo(b.Begin) : a.End.CompareTo(b.End));
            long next = 0;
            string? previous = null;
            foreach (var (entry, begin, end) in ranges)
            {
                if (begin < next)
                    throw Refuse(path, $"tensor '{entry.Name}' (bytes {begin}–{end}) overlaps tensor '{previous}' (which ends at byte {next})");
                if (begin > next)
                    throw Refuse(path, $"bytes {next}–{begin} of the data block, before tensor '{entry.Name}', belong to no tensor (tensor ranges must be contiguous)");
                (next, previous) = (end, entry.Name);
            }
            if (next != dataLength)
                throw Refuse(path, $"the tensors cover {next} bytes of the {dataLength}-byte data block (the rest belongs to no tensor)");
            return ranges.Select(r => r.Entry).ToList();
        }
    }

    // One tensor's entry: {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, offsets relative to the data block.
    private static (SafeTensorsEntry, long, long) Entry(string path, string name, JsonElement entry, long dataLength)
    {
        if (entry.ValueKind != JsonValueKind.Object) throw Refuse(path, $"the entry of tensor '{name}' is not a JSON object");
        string dtypeName = entry.TryGetProperty("dtype", out var d) && d.ValueKind == JsonValueKind.String ? d.GetString()! : "";
        var dtype = DTypeOf(dtypeName) ?? throw Refuse(path, $"tensor '{name}' has the unknown dtype '{dtypeName}' (known: {string.Join(", ", DTypeNames)})");
        var shape = Integers(path, name, entry, "shape");
        var offsets = Integers(path, name, entry, "data_offsets");
        if (offsets.Length != 2) throw Refuse(path, $"tensor '{name}' has {offsets.Length} data offsets, not 2 (begin and end)");
        long begin = offsets[0], end = offsets[1];
        if (end < begin) throw Refuse(path, $"tensor '{name}' ends (byte {end}) before it begins (byte {begin})");
        if (end > dataLength)
            throw Refuse(path, $"tensor '{name}' (bytes {begin}–{end}) lies outside the {dataLength}-byte data block (the file may be truncated)");
        long expected = ElementSize(dtype);
        foreach (long side in shape)
            expected = side == 0 || expected <= long.MaxValue / side ? expected * side : long.MaxValue;
        if (end - begin != expected)
            throw Refuse(path, $"tensor '{name}' has {end - begin} bytes, but {dtypeName} [{string.Join(", ", shape)}] takes {expected}");
        return (new SafeTensorsEntry(name, dtype, shape, begin, end - begin), begin, end);
    }

    private static long[] Integers(string path, string name, JsonElement entry, string field)
    {
        if (!entry.TryGetProperty(field, out var array) || array.ValueKind != JsonValueKind.Array)
            throw Refuse(path, $"tensor '{name}' has no {field} array");
        var values = new long[array.GetArrayLength()];
        int i = 0;
        foreach (var item in array.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Number || !item.TryGetInt64(out long v) || v < 0)
                throw Refuse(path, $"tensor '{name}' has {field} entry {item.GetRawText()}, not a non-negative integer");
            values[i++] = v;
        }
        return values;
    }

    private static InvalidDataException Refuse(string path, string problem) =>
        new($"'{path}' is not a valid safetensors file: {problem}. Nothing was loaded from it.");

    /// <summary>The safetensors dtype names this framework reads.</summary>
    public static IReadOnlyList<string> DTypeNames { get; } = ["F64", "F32", "F16", "BF16", "I64", "I32", "I16", "I8", "U8", "BOOL"];

    /// <summary>The dtype a safetensors dtype name stands for, or null when it is not one this framework reads.</summary>
    public static ScalarType? DTypeOf(string name) => name switch
    {
        "F64" => ScalarType.Float64,
        "F32" => ScalarType.Float32,
        "F16" => ScalarType.Float16,
        "BF16" => ScalarType.BFloat16,
        "I64" => ScalarType.Int64,
        "I32" => ScalarType.Int32,
        "I16" => ScalarType.Int16,
        "I8" => ScalarType.Int8,
        "U8" => ScalarType.Byte,
        "BOOL" => ScalarType.Bool,
        _ => null,
    };

    /// <summary>The safetensors name of a dtype this framework reads.</summary>
    /// <exception cref="ArgumentException">For any other dtype.</exception>
    public static string NameOf(ScalarType dtype) => dtype switch
    {
        ScalarType.Float64 => "F64",
        ScalarType.Float32 => "F32",
        ScalarType.Float16 => "F16",
        ScalarType.BFloat16 => "BF16",
        ScalarType.Int64 => "I64",
        ScalarType.Int32 => "I32",
        ScalarType.Int16 => "I16",
        ScalarType.Int8 => "I8",
        ScalarType.Byte => "U8",
        ScalarType.Bool => "BOOL",
        _ => throw new ArgumentException($"dtype {dtype} has no safetensors name in this framework"),
    };

    /// <summary>Bytes per element of a dtype this framework reads.</summary>
    public static int ElementSize(ScalarType dtype) => dtype switch
    {
        ScalarType.Float64 or ScalarType.Int64 => 8,
        ScalarType.Float32 or ScalarType.Int32 => 4,
        ScalarType.Float16 or ScalarType.BFloat16 or ScalarType.Int16 => 2,
        _ => 1,
    };
}
