using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using EDiffI.Host.Data;
using EDiffI.Host.Imaging;
using EDiffI.Host.Pipeline;
using EDiffI.Host.Runtime;
using EDiffI.Host.Training;
using EDiffI.IO;
using EDiffI.Plugins.Clip;
using EDiffI.Plugins.T5;
using EDiffI.Plugins.UNet;
using EDiffI.Tests.Encoders;
using Microsoft.Extensions.Configuration;
using SkiaSharp;
using static TorchSharp.torch;

namespace EDiffI.Tests;

/// <summary>
/// Hostile and damaged files (issue 13, item 6): each is refused with a message naming the file and
/// what is wrong, before anything is loaded from it, and nothing on disk changes.
/// </summary>
public class HostileFileTests
{
    // Each case is a safetensors file for nn.Linear(2, 2) (weight F32 [2, 2] = 16 bytes, bias F32 [2] = 8 bytes)
    // broken in one way: its header, the size of its data block, the header length it declares, the message expected.
    private static readonly Dictionary<string, (string Header, int Data, ulong? Declared, string Message)> SafeTensorsCases = new()
    {
        ["header over 100 MB"] = ("{}", 0, 200_000_000, "header length of 200000000 bytes is over the 100 MB limit"),
        ["header past the end"] = ("{}", 0, 5000, "header length of 5000 bytes runs past the end of the file"),
        ["offsets outside the data"] = (Layout(("weight", "F32", "[2, 2]", 0, 16), ("bias", "F32", "[2]", 16, 24)), 16,
            null, "tensor 'bias' (bytes 16–24) lies outside the 16-byte data block"),
        ["overlapping tensors"] = (Layout(("weight", "F32", "[2, 2]", 0, 16), ("bias", "F32", "[2]", 8, 16)), 16,
            null, "tensor 'bias' (bytes 8–16) overlaps tensor 'weight'"),
        ["same bytes twice"] = (Layout(("weight", "F32", "[2]", 0, 8), ("bias", "F32", "[2]", 0, 8)), 8,
            null, "overlaps tensor"),
        ["a hole between tensors"] = (Layout(("weight", "F32", "[2, 2]", 0, 16), ("bias", "F32", "[2]", 24, 32)), 32,
            null, "bytes 16–24 of the data block, before tensor 'bias', belong to no tensor"),
        ["bytes left over"] = (Layout(("weight", "F32", "[2, 2]", 0, 16), ("bias", "F32", "[2]", 16, 24)), 40,
            null, "the tensors cover 24 bytes of the 40-byte data block"),
        ["byte count against shape"] = (Layout(("weight", "F32", "[2, 2]", 0, 12), ("bias", "F32", "[2]", 12, 20)), 20,
            null, "tensor 'weight' has 12 bytes, but F32 [2, 2] takes 16"),
        ["unknown dtype"] = (Layout(("weight", "F8_E4M3", "[2, 2]", 0, 4), ("bias", "F32", "[2]", 4, 12)), 12,
            null, "tensor 'weight' has the unknown dtype 'F8_E4M3'"),
        ["negative shape"] = (Layout(("weight", "F32", "[-2, 2]", 0, 16), ("bias", "F32", "[2]", 16, 24)), 24,
            null, "tensor 'weight' has shape entry -2, not a non-negative integer"),
        ["header not JSON"] = ("{\"weight\": [", 8, null, "its header is not valid JSON"),
    };

    public static TheoryData<string> SafeTensorsCaseNames => new(SafeTensorsCases.Keys);

    [Theory]
    [MemberData(nameof(SafeTensorsCaseNames))]
    public void HostileSafetensorsAreRefusedByEveryReaderBeforeLoading(string name)
    {
        var (header, data, declared, message) = SafeTensorsCases[name];
        using var folder = new TinyModel.TempFolder();
        string path = Craft(Path.Combine(folder.Path, "hostile.safetensors"), header, data, declared);
        string before = HashFolder(folder.Path);
        using var linear = nn.Linear(2, 2);
        using var weightBefore = linear.weight!.clone();

        var direct = Assert.Throws<InvalidDataException>(() => SafeTensorsHeader.Read(path));
        var read = Assert.Throws<InvalidDataException>(() => SafeTensorsWeights.Read(path));
        var load = Assert.Throws<InvalidDataException>(() => SafeTensorsWeights.Load(linear, path));
        var t5 = Assert.Throws<InvalidDataException>(() => SafeTensorsCheckpoint.ReadHeader(path));
        foreach (var e in new[] { direct, read, load, t5 })
        {
            Assert.Contains($"'{path}' is not a valid safetensors file", e.Message, StringComparison.Ordinal);
            Assert.Contains(message, e.Message, StringComparison.Ordinal);
        }
        Assert.True(weightBefore.equal(linear.weight!).all().item<bool>()); // nothing was copied
        Assert.Equal(before, HashFolder(folder.Path));
    }

    [Fact]
    public void AWellFormedFileOfTheSameLayoutLoads()
    {
        // The control for the cases above: the same writer, nothing broken, and the tensors arrive.
        using var folder = new TinyModel.TempFolder();
        string path = Craft(Path.Combine(folder.Path, "fine.safetensors"),
            Layout(("weight", "F32", "[2, 2]", 0, 16), ("bias", "F32", "[2]", 16, 24)), 24, null);
        var header = SafeTensorsHeader.Read(path);
        Assert.Equal(["weight", "bias"], header.Tensors.Select(t => t.Name));
        using var linear = nn.Linear(2, 2);
        SafeTensorsWeights.Load(linear, path);
        Assert.Equal(0f, linear.weight!.abs().sum().item<float>());
    }

    [Fact]
    public void AModelWhoseTensorsShareBytesIsRefusedWithAUserMessage()
    {
        // A real U-Net file rewritten so that one tensor points at another's bytes: it used to load silently.
        using var folder = new TinyModel.TempFolder();
        TinyModel.Pipeline(folder.Path).Dispose();
        string weights = Path.Combine(folder.Path, UNetFiles.WeightsFile);
        var (a, b) = PointOneTensorAtAnother(weights);
        string before = HashFolder(folder.Path);
        var e = Assert.Throws<UserException>(() => TextToImagePipeline.Load(folder.Path, TinyModel.Catalog, CPU, ScalarType.Float32));
        Assert.Contains("The model's network cannot be loaded", e.Message, StringComparison.Ordinal);
        Assert.Contains(weights, e.Message, StringComparison.Ordinal);
        Assert.Contains($"tensor '{b}'", e.Message, StringComparison.Ordinal);
        Assert.Contains($"overlaps tensor '{a}'", e.Message, StringComparison.Ordinal);
        Assert.Equal(before, HashFolder(folder.Path));
    }

    [Fact]
    public void EncoderFoldersWithAHostileCheckpointAreRefused()
    {
        var (header, data, declared, message) = SafeTensorsCases["overlapping tensors"];
        foreach (var (fixture, load) in new (string, Action<string>)[]
                 {
                     ("t5-encoder", folder => new T5TextEncoder(folder, 16).Dispose()),
                     ("clip", folder => ClipTextEncoder.Load(folder).Dispose()),
                     ("clip", folder => ClipImageEncoder.Load(folder).Dispose()),
                 })
        {
            using var folder = new TinyModel.TempFolder();
            foreach (var file in Directory.GetFiles(EncoderFixtures.Path(fixture)))
                File.Copy(file, Path.Combine(folder.Path, Path.GetFileName(file)));
            string path = Craft(Path.Combine(folder.Path, "model.safetensors"), header, data, declared);
            string before = HashFolder(folder.Path);
            var e = Assert.Throws<InvalidDataException>(() => load(folder.Path));
            Assert.Contains(path, e.Message, StringComparison.Ordinal);
            Assert.Contains(message, e.Message, StringComparison.Ordinal);
            Assert.Equal(before, HashFolder(folder.Path));
        }
    }

    [Fact]
    public void ATrainingCheckpointWithAHostileShardIsRefusedEvenWhenItsChecksumsMatch()
    {
        using var folder = new TinyModel.TempFolder();
        using var tensor = ones(4);
        string dir = Checkpoint.Save(folder.Path, 1, new Dictionary<string, Tensor> { ["model/x"] = tensor }, new JsonObject(), 1);
        var (header, data, declared, message) = SafeTensorsCases["a hole between tensors"];
        string shard = Craft(Path.Combine(dir, "state-000.safetensors"), header, data, declared);
        // The attacker rewrites the checksums too, so only the header check stands in the way.
        string metaPath = Path.Combine(dir, "state.json");
        var meta = JsonNode.Parse(File.ReadAllText(metaPath))!;
        meta["files"]![0]!["bytes"] = new FileInfo(shard).Length;
        meta["files"]![0]!["sha256"] = Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(shard)));
        File.WriteAllText(metaPath, meta.ToJsonString());
        string before = HashFolder(folder.Path);
        var e = Assert.Throws<UserException>(() => Checkpoint.Load(dir));
        Assert.Contains($"Checkpoint '{dir}' is corrupt", e.Message, StringComparison.Ordinal);
        Assert.Contains(shard, e.Message, StringComparison.Ordinal);
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
        Assert.Equal(before, HashFolder(folder.Path));
    }

    [Fact]
    public void AnEmbeddingCacheWithAHostileShardIsRefusedBeforeAnyShardIsRead()
    {
        using var folder = new TinyModel.TempFolder();
        using (var images = zeros(new long[] { 1, 3, 8, 8 }, dtype: ScalarType.Byte))
            SafeTensorsWeights.Save(new Dictionary<string, Tensor> { ["images"] = images }, Path.Combine(folder.Path, "shard-00000.safetensors"));
        var (header, data, declared, message) = SafeTensorsCases["header past the end"];
        string hostile = Craft(Path.Combine(folder.Path, "shard-00001.safetensors"), header, data, declared);
        File.WriteAllText(Path.Combine(folder.Path, EmbeddingCache.IndexFile),
            """{"format": "ediffi-embeddings/1", "count": 1, "resolution": 8, "shards": ["shard-00000.safetensors", "shard-00001.safetensors"]}""");
        string before = HashFolder(folder.Path);
        var e = Assert.Throws<UserException>(() => new EmbeddingCacheSource(folder.Path));
        Assert.Contains("is damaged", e.Message, StringComparison.Ordinal);
        Assert.Contains(hostile, e.Message, StringComparison.Ordinal);
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
        Assert.Equal(before, HashFolder(folder.Path));
    }

    // model.json and unet.json broken one field at a time: the file, the field ("" replaces the whole file), its new JSON, the message.
    [Theory]
    [InlineData(ModelManifest.FileName, "defaultSteps", "\"many\"", "field 'defaultSteps' has the wrong type")]
    [InlineData(ModelManifest.FileName, "t5", "5", "field 't5' has the wrong type")]
    [InlineData(ModelManifest.FileName, "network", "null", "field 'network' has the wrong type")]
    [InlineData(ModelManifest.FileName, "format", "\"ediffi-model/2\"", "was written by a newer EDiffI: it is model manifest version 2, and this build reads up to version 1")]
    [InlineData(ModelManifest.FileName, "format", "\"stable-diffusion\"", "field 'format' should be \"ediffi-model/1\", not \"stable-diffusion\"")]
    [InlineData(ModelManifest.FileName, "", "{ \"format\": ", "it is not well-formed JSON")]
    [InlineData(ModelManifest.FileName, "", "[1, 2]", "it holds a JSON array, not an object")]
    [InlineData(UNetFiles.ConfigFile, "resolution", "\"64\"", "field 'resolution' has the wrong type")]
    [InlineData(UNetFiles.ConfigFile, "channelMultipliers", "null", "field 'channelMultipliers' has the wrong type")]
    [InlineData(UNetFiles.ConfigFile, "crossAttention", "\"yes\"", "field 'crossAttention' has the wrong type")]
    [InlineData(UNetFiles.ConfigFile, "version", "2", "was written by a newer EDiffI: it is U-Net configuration version 2, and this build reads up to version 1")]
    [InlineData(UNetFiles.ConfigFile, "version", "\"one\"", "field 'version' should be 1, not \"one\"")]
    [InlineData(UNetFiles.ConfigFile, "headChannels", "0", "head channels must be positive (got 0)")]
    [InlineData(UNetFiles.ConfigFile, "", "{\"resolution\": 16,,}", "it is not well-formed JSON")]
    public void BrokenModelFilesAreRefusedNamingTheFileAndTheField(string file, string field, string json, string message)
    {
        using var folder = new TinyModel.TempFolder();
        TinyModel.Pipeline(folder.Path).Dispose();
        string path = Path.Combine(folder.Path, file);
        if (field == "") File.WriteAllText(path, json);
        else
        {
            var root = JsonNode.Parse(File.ReadAllText(path))!;
            root[field] = JsonNode.Parse(json);
            File.WriteAllText(path, root.ToJsonString());
        }
        string before = HashFolder(folder.Path);
        var e = Assert.Throws<UserException>(() => TextToImagePipeline.Load(folder.Path, TinyModel.Catalog, CPU, ScalarType.Float32));
        Assert.Contains($"'{path}'", e.Message, StringComparison.Ordinal);
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
        Assert.Equal(before, HashFolder(folder.Path));
    }

    [Fact]
    public void UNetConfigurationsCarryTheirVersionAndOldOnesWithoutItStillLoad()
    {
        using var folder = new TinyModel.TempFolder();
        TinyModel.Pipeline(folder.Path).Dispose();
        string path = Path.Combine(folder.Path, UNetFiles.ConfigFile);
        var root = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        Assert.Equal(UNetConfig.CurrentVersion, root["version"]!.GetValue<int>());
        root.Remove("version"); // as every unet.json written before the field existed (the shipped model's)
        File.WriteAllText(path, root.ToJsonString());
        Assert.Equal(TinyModel.Config.ToJson(), UNetFiles.ReadConfig(folder.Path).ToJson());
    }

    [Fact]
    public void AnImageDeclaringMorePixelsThanTheLimitIsRefusedBeforeDecoding()
    {
        // 16000² RGBA8 would take 1 GB once decoded; the file is a few hundred bytes.
        using var folder = new TinyModel.TempFolder();
        string png = Path.Combine(folder.Path, "huge.png");
        File.WriteAllBytes(png, Png(16, 16, declaredWidth: 16000, declaredHeight: 16000));
        using (var codec = SKCodec.Create(png)) Assert.Equal(new SKSizeI(16000, 16000), codec.Info.Size); // what the header says
        string before = HashFolder(folder.Path);
        var legend = new Dictionary<uint, string> { [0xFF0000] = "red bricks" };

        var style = Assert.Throws<UserException>(() => ImageFiles.LoadSquare(png, 224, what: "The style reference"));
        var scribble = Assert.Throws<UserException>(() => Scribble.ReadRegions(png, legend, 16, _ => { }));
        var clip = Assert.Throws<InvalidDataException>(() => ClipImageFiles.Load(png));
        Assert.StartsWith("The style reference: ", style.Message, StringComparison.Ordinal);
        Assert.StartsWith("The scribble: ", scribble.Message, StringComparison.Ordinal);
        foreach (var e in new Exception[] { style, scribble, clip })
            Assert.Contains($"'{png}' declares an image of 16000×16000 pixels, over the limit of 4096 a side; it was not decoded", e.Message, StringComparison.Ordinal);
        Assert.Equal(before, HashFolder(folder.Path));
    }

    [Fact]
    public void TheImageLimitComesFromConfiguration()
    {
        using var folder = new TinyModel.TempFolder();
        string png = Path.Combine(folder.Path, "small.png");
        File.WriteAllBytes(png, Png(16, 16));
        var limits = new ConfigurationBuilder().AddInMemoryCollection([new($"{ImageLimits.Section}:{nameof(ImageLimits.MaxSide)}", "8")])
            .Build().GetSection(ImageLimits.Section).Get<ImageLimits>()!;
        Assert.Equal(8, limits.MaxSide);
        var refused = Assert.Throws<InvalidDataException>(() => ClipImageFiles.Load(png, limits));
        Assert.Contains("16×16 pixels, over the limit of 8 a side", refused.Message, StringComparison.Ordinal);
        Assert.Contains("--set Images:MaxSide=N", refused.Message, StringComparison.Ordinal);
        Assert.Contains("over the limit of 8", Assert.Throws<UserException>(() => ImageFiles.LoadSquare(png, 8, limits)).Message, StringComparison.Ordinal);
        // Within the default limit the same file decodes.
        using var square = ImageFiles.LoadSquare(png, 8);
        Assert.Equal(new long[] { 3, 8, 8 }, square.shape);
        using var image = ClipImageFiles.Load(png);
        Assert.Equal(new long[] { 1, 3, 16, 16 }, image.shape);
    }

    private static string Layout(params (string Name, string DType, string Shape, long Begin, long End)[] tensors) =>
        "{\"__metadata__\": {\"format\": \"pt\"}, " + string.Join(", ", tensors.Select(t =>
            $"\"{t.Name}\": {{\"dtype\": \"{t.DType}\", \"shape\": {t.Shape}, \"data_offsets\": [{t.Begin}, {t.End}]}}")) + "}";

    // A safetensors file: 8-byte little-endian header length (the header's own, or the declared one), the header, zeroed data.
    private static string Craft(string path, string header, int dataBytes, ulong? declaredLength)
    {
        var json = Encoding.UTF8.GetBytes(header);
        var bytes = new byte[8 + json.Length + dataBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, declaredLength ?? (ulong)json.Length);
        json.CopyTo(bytes, 8);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    // Rewrites the header of a real file so that a tensor's offsets are those of an earlier tensor of the same dtype and shape.
    private static (string Kept, string Moved) PointOneTensorAtAnother(string path)
    {
        var bytes = File.ReadAllBytes(path);
        int length = (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        var header = JsonNode.Parse(bytes.AsSpan(8, length))!.AsObject();
        var entries = header.Where(kv => kv.Key != "__metadata__")
            .Select(kv => (Name: kv.Key, Node: kv.Value!, Begin: kv.Value!["data_offsets"]![0]!.GetValue<long>()))
            .OrderBy(e => e.Begin).ToList();
        var (kept, moved) = entries.SelectMany((a, i) => entries.Skip(i + 1).Where(b =>
                b.Node["dtype"]!.GetValue<string>() == a.Node["dtype"]!.GetValue<string>() &&
                b.Node["shape"]!.ToJsonString() == a.Node["shape"]!.ToJsonString()).Select(b => (a, b)))
            .First();
        moved.Node["data_offsets"] = kept.Node["data_offsets"]!.DeepClone();
        var json = Encoding.UTF8.GetBytes(header.ToJsonString());
        var rewritten = new byte[8 + json.Length + (bytes.Length - 8 - length)];
        BinaryPrimitives.WriteUInt64LittleEndian(rewritten, (ulong)json.Length);
        json.CopyTo(rewritten, 8);
        bytes.AsSpan(8 + length).CopyTo(rewritten.AsSpan(8 + json.Length));
        File.WriteAllBytes(path, rewritten);
        return (kept.Name, moved.Name);
    }

    // A real PNG of width × height red pixels whose IHDR may then declare another size (its CRC fixed up).
    private static byte[] Png(int width, int height, int? declaredWidth = null, int? declaredHeight = null)
    {
        using var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Unpremul));
        bitmap.Erase(SKColors.Red);
        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        var bytes = data.ToArray();
        // After the 8-byte signature, IHDR: length (4), "IHDR" (4), width (4), height (4), 5 more bytes, CRC of type and data (4).
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(16), declaredWidth ?? width);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(20), declaredHeight ?? height);
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(29), Crc32(bytes.AsSpan(12, 17)));
        return bytes;
    }

    // CRC-32 of PNG chunks (ISO 3309, reflected polynomial 0xEDB88320).
    private static uint Crc32(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in data)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++) crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320 : crc >> 1;
        }
        return ~crc;
    }

    // Names and contents of every file under the folder: equal before and after means nothing was written, renamed or removed.
    private static string HashFolder(string folder)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var file in Directory.GetFiles(folder, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            sha.AppendData(Encoding.UTF8.GetBytes(Path.GetRelativePath(folder, file)));
            sha.AppendData(File.ReadAllBytes(file));
        }
        return Convert.ToHexString(sha.GetHashAndReset());
    }
}
