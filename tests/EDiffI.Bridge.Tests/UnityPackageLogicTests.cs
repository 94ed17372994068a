using System.Buffers.Binary;
using System.IO.Compression;
using EDiffI.Bridge.Protocol;
using EDiffI.Bridge.Unity.Editor;
using EDiffI.Host.Imaging;

namespace EDiffI.Bridge.Tests;

/// <summary>
/// The Unity package's plain-C# parts (UnityBridge/Package/Editor/Core, compiled into this test project): file names,
/// importer rules and their marker, the pipeline → shader property mapping, the packed maps, the PNG writer (read back by
/// SkiaSharp and by hand), batches and the gallery.
/// </summary>
public class UnityPackageLogicTests
{
    [Theory]
    [InlineData("Mossy cobblestones, wet!", 3, null, 0.0, "mossy-cobblestones-wet_3")]
    [InlineData("Crème brûlée tiles", 12, null, 0.0, "creme-brulee-tiles_12")]
    [InlineData("  ***  ", 0, null, 0.0, "texture_0")]
    [InlineData("oak planks", 3, 9L, 0.3, "oak-planks_3_var9-30")]
    [InlineData("oak planks", 3, 9L, 0.0, "oak-planks_3")]
    public void StemsCarryThePromptSlugAndTheSeeds(string prompt, long seed, long? variationSeed, double strength, string expected) =>
        Assert.Equal(expected, TextureNames.Stem(prompt, seed, variationSeed, strength));

    [Fact]
    public void SlugsStayShortAndFileNamesNameTheirMap()
    {
        string slug = TextureNames.Slug(new string('a', 100) + " bricks");
        Assert.Equal(TextureNames.MaxSlugLength, slug.Length);
        Assert.Equal("bricks_5.png", TextureNames.FileName("bricks_5", MapKind.Albedo, pbrSet: false));
        Assert.Equal("bricks_5_albedo.png", TextureNames.FileName("bricks_5", MapKind.Albedo, pbrSet: true));
        foreach (MapKind kind in Enum.GetValues<MapKind>())
        {
            string name = TextureNames.FileName("red-bricks_5", kind, pbrSet: true);
            Assert.StartsWith("red-bricks_5_", name);
            Assert.Equal(kind, TextureNames.KindOf(name)); // the suffix names the map back
        }
        Assert.Equal(MapKind.Albedo, TextureNames.KindOf("bricks_5.png"));
        Assert.Equal(MapKind.Occlusion, TextureNames.KindOf("bricks_5_ao.png"));
    }

    [Fact]
    public void AStemThatIsTakenGetsANumberSoNothingIsOverwritten()
    {
        var taken = new HashSet<string> { "bricks_5_normal.png", "bricks_5-2.mat" };
        var kinds = new[] { MapKind.Albedo, MapKind.Normal };
        Assert.Equal("bricks_5-3", TextureNames.UniqueStem("bricks_5", kinds, pbrSet: true, taken.Contains));
        Assert.Equal("bricks_5", TextureNames.UniqueStem("bricks_5", [MapKind.Albedo], pbrSet: false, taken.Contains)); // bricks_5.png is free
    }

    [Theory]
    //                kind                        tileX  tileY  normalMap sRGB   repeatU repeatV
    [InlineData(MapKind.Albedo, true, true, false, true, true, true)]
    [InlineData(MapKind.Albedo, false, false, false, true, false, false)]
    [InlineData(MapKind.Normal, true, false, true, false, true, false)]
    [InlineData(MapKind.Height, false, true, false, false, false, true)]
    [InlineData(MapKind.Roughness, true, true, false, false, true, true)]
    [InlineData(MapKind.Occlusion, true, true, false, false, true, true)]
    [InlineData(MapKind.MetallicSmoothness, false, false, false, false, false, false)]
    [InlineData(MapKind.HdrpMask, true, true, false, false, true, true)]
    public void ImporterRulesFollowTheMapAndTheTiledAxes(MapKind kind, bool tileX, bool tileY, bool normalMap, bool srgb, bool repeatU, bool repeatV)
    {
        var rule = ImportRules.For(kind, tileX, tileY);
        Assert.Equal(new ImportRule(normalMap, srgb, repeatU, repeatV, mipmaps: true), rule);
        // The marker written into the importer's userData reads back to the same rule.
        Assert.True(ImportRules.TryParseMarker(ImportRules.Marker(kind, tileX, tileY), out var back, out bool x, out bool y));
        Assert.Equal((kind, tileX, tileY), (back, x, y));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("some other tool's data")]
    [InlineData("ediffi-texture map=sparkle tile=xy")]
    [InlineData("ediffi-texture map=normal tile=z")]
    [InlineData("ediffi-texture map=normal")]
    public void OnlyOurMarkerMakesATextureOurs(string? userData) =>
        Assert.False(ImportRules.TryParseMarker(userData, out _, out _, out _));

    [Fact]
    public void TileAxesStringsNameTheirAxes()
    {
        Assert.Equal((true, true), ImportRules.Axes("xy"));
        Assert.Equal((false, true), ImportRules.Axes("y"));
        Assert.Equal((false, false), ImportRules.Axes(null));
    }

    [Theory]
    [InlineData(null, RenderPipelineKind.BuiltIn)]
    [InlineData("UnityEngine.Rendering.Universal.UniversalRenderPipelineAsset", RenderPipelineKind.Universal)]
    [InlineData("UnityEngine.Rendering.HighDefinition.HDRenderPipelineAsset", RenderPipelineKind.HighDefinition)]
    [InlineData("MyStudio.CustomPipelineAsset", RenderPipelineKind.Unknown)]
    public void ThePipelineComesFromItsAssetsType(string? type, RenderPipelineKind expected) =>
        Assert.Equal(expected, MaterialMapping.PipelineOf(type));

    [Fact]
    public void EachPipelineHasItsShaderAndPropertyNames()
    {
        string Slot(RenderPipelineKind p, MapKind map) => MaterialMapping.For(p).Slots.Single(s => s.Map == map).Property;

        var standard = MaterialMapping.For(RenderPipelineKind.BuiltIn);
        Assert.Equal("Standard", standard.Shader);
        Assert.Equal(["_MainTex", "_BumpMap", "_ParallaxMap", "_OcclusionMap", "_MetallicGlossMap"], standard.Slots.Select(s => s.Property));
        Assert.Equal(MapKind.MetallicSmoothness, standard.SmoothnessMap);
        Assert.Contains(standard.FloatsFor([MapKind.Albedo]), f => f.Key == "_Glossiness" && f.Value == MaterialMapping.ConstantSmoothness);
        Assert.Contains(standard.FloatsFor([MapKind.Albedo, MapKind.MetallicSmoothness]), f => f.Key == "_GlossMapScale" && f.Value == 1f);

        var urp = MaterialMapping.For(RenderPipelineKind.Universal);
        Assert.Equal("Universal Render Pipeline/Lit", urp.Shader);
        Assert.Equal("_BaseMap", Slot(RenderPipelineKind.Universal, MapKind.Albedo));
        Assert.Equal("_BumpMap", Slot(RenderPipelineKind.Universal, MapKind.Normal));
        Assert.Equal("_OcclusionMap", Slot(RenderPipelineKind.Universal, MapKind.Occlusion));
        Assert.Equal("_ParallaxMap", Slot(RenderPipelineKind.Universal, MapKind.Height));
        // With the map, URP's smoothness is its alpha times _Smoothness; without it, a constant: never a mirror.
        Assert.Contains(urp.FloatsFor([MapKind.Albedo, MapKind.MetallicSmoothness]), f => f.Key == "_Smoothness" && f.Value == 1f);
        Assert.Contains(urp.FloatsFor([MapKind.Albedo, MapKind.HdrpMask]), f => f.Key == "_Smoothness" && f.Value == MaterialMapping.ConstantSmoothness);
        Assert.DoesNotContain(urp.FloatsFor([MapKind.Albedo]), f => f.Key == "_Smoothness" && f.Value == 1f);

        var hdrp = MaterialMapping.For(RenderPipelineKind.HighDefinition);
        Assert.Equal("HDRP/Lit", hdrp.Shader);
        Assert.Equal(["_BaseColorMap", "_NormalMap", "_HeightMap", "_MaskMap"], hdrp.Slots.Select(s => s.Property));
        Assert.Equal(MapKind.HdrpMask, hdrp.SmoothnessMap);
        Assert.DoesNotContain(hdrp.Slots, s => s.Map == MapKind.Occlusion); // occlusion travels in the mask's green
        Assert.Contains(hdrp.FloatsFor([MapKind.Albedo, MapKind.HdrpMask]), f => f.Key == "_SmoothnessRemapMax" && f.Value == 1f);
        Assert.All(new[] { standard, urp, hdrp }, layout => Assert.Contains(layout.FloatsFor([MapKind.Albedo]), f => f.Key == "_Metallic" && f.Value == 0f));

        // No shader reads a roughness map: roughness reaches each one as a packed smoothness map.
        foreach (var pipeline in new[] { RenderPipelineKind.BuiltIn, RenderPipelineKind.Universal, RenderPipelineKind.HighDefinition })
        {
            var layout = MaterialMapping.For(pipeline);
            Assert.DoesNotContain(layout.Slots, s => s.Map == MapKind.Roughness);
            Assert.Contains(layout.Slots, s => s.Map == layout.SmoothnessMap);
            Assert.Contains(MapKind.Roughness, layout.PbrFiles()); // still saved, for other tools
        }
        Assert.Throws<NotSupportedException>(() => MaterialMapping.For(RenderPipelineKind.Unknown));
    }

    [Fact]
    public void KeywordsFollowTheMapsPresent()
    {
        var all = new HashSet<MapKind>(Enum.GetValues<MapKind>());
        Assert.Equal(["_NORMALMAP", "_PARALLAXMAP", "_METALLICGLOSSMAP"], MaterialMapping.Keywords(MaterialMapping.For(RenderPipelineKind.BuiltIn), all));
        Assert.Equal(["_NORMALMAP", "_PARALLAXMAP", "_OCCLUSIONMAP", "_METALLICSPECGLOSSMAP"], MaterialMapping.Keywords(MaterialMapping.For(RenderPipelineKind.Universal), all));
        Assert.Equal(["_NORMALMAP", "_HEIGHTMAP", "_MASKMAP", "_NORMALMAP_TANGENT_SPACE"], MaterialMapping.Keywords(MaterialMapping.For(RenderPipelineKind.HighDefinition), all));
        Assert.Empty(MaterialMapping.Keywords(MaterialMapping.For(RenderPipelineKind.Universal), [MapKind.Albedo]));
    }

    [Fact]
    public void PackedMapsInvertRoughnessIntoSmoothness()
    {
        byte[] roughness = [0, 0, 0, 255, 200, 200, 200, 255, 255, 255, 255, 255];
        byte[] occlusion = [10, 10, 10, 255, 128, 128, 128, 255, 255, 255, 255, 255];
        Assert.Equal([0, 0, 0, 255, 0, 0, 0, 55, 0, 0, 0, 0], MapPacking.MetallicSmoothness(roughness));
        Assert.Equal([0, 10, 255, 255, 0, 128, 255, 55, 0, 255, 255, 0], MapPacking.HdrpMask(roughness, occlusion));
        Assert.Throws<ArgumentException>(() => MapPacking.HdrpMask(roughness, [1, 2, 3, 4]));
    }

    [Fact]
    public void AMaskIsResizedByNearestPixel()
    {
        // 2×1: white, black → 4×2: each pixel doubled in both directions.
        byte[] mask = [255, 255, 255, 255, 0, 0, 0, 255];
        var big = MapPacking.Nearest(mask, 2, 1, 4, 2);
        Assert.Equal(4 * 2 * 4, big.Length);
        for (int y = 0; y < 2; y++)
            for (int x = 0; x < 4; x++) Assert.Equal(x < 2 ? 255 : 0, big[(y * 4 + x) * 4]);
        Assert.Equal(mask, MapPacking.Nearest(big, 4, 2, 2, 1));
        Assert.Throws<ArgumentException>(() => MapPacking.Nearest(mask, 3, 1, 4, 2));
    }

    [Fact]
    public void Rgba8PngsReadBackExactlyWithTheirText()
    {
        const int w = 5, h = 3;
        var rgba = Enumerable.Range(0, w * h * 4).Select(i => (byte)(i * 37 + 11)).ToArray();
        for (int i = 3; i < rgba.Length; i += 4) rgba[i] = 255;
        using var folder = new ScratchFolder();
        string path = Path.Combine(folder.Path, "t.png");
        File.WriteAllBytes(path, PngFile.Rgba8(rgba, w, h, [new("parameters", "crème bricks\nSeed: 3")]));
        var (back, bw, bh) = ImageFiles.ReadRgba8(path, "the test PNG"); // SkiaSharp's decoder, which checks the zlib stream
        Assert.Equal((w, h), (bw, bh));
        Assert.Equal(rgba, back);
        Assert.Equal("crème bricks\nSeed: 3", ImageFiles.ReadPngText(path)["parameters"]);
        Assert.Throws<ArgumentException>(() => PngFile.Rgba8(rgba, w + 1, h));
    }

    [Fact]
    public void HeightPngsAre16BitGreyWithEverySample()
    {
        const int w = 4, h = 2;
        var samples = new ushort[] { 0, 1, 255, 256, 4660, 40000, 65534, 65535 };
        var littleEndian = new byte[w * h * 2];
        for (int i = 0; i < samples.Length; i++) BinaryPrimitives.WriteUInt16LittleEndian(littleEndian.AsSpan(i * 2), samples[i]);
        byte[] png = PngFile.Grey16(littleEndian, w, h);
        // By hand: IHDR says 16-bit grey; the one IDAT inflates to rows of filter 0 and big-endian samples.
        Assert.Equal("IHDR", System.Text.Encoding.ASCII.GetString(png, 12, 4));
        Assert.Equal((w, h, 16, 0), (BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(16)), BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(20)), (int)png[24], (int)png[25]));
        int at = 8 + 25;
        Assert.Equal("IDAT", System.Text.Encoding.ASCII.GetString(png, at + 4, 4));
        int length = BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(at));
        using var inflated = new MemoryStream();
        using (var z = new ZLibStream(new MemoryStream(png, at + 8, length), CompressionMode.Decompress)) z.CopyTo(inflated); // checks the Adler-32
        var raw = inflated.ToArray();
        Assert.Equal(h * (1 + w * 2), raw.Length);
        for (int y = 0; y < h; y++)
        {
            Assert.Equal(0, raw[y * (1 + w * 2)]);
            for (int x = 0; x < w; x++) Assert.Equal(samples[y * w + x], BinaryPrimitives.ReadUInt16BigEndian(raw.AsSpan(y * (1 + w * 2) + 1 + x * 2)));
        }
        // And a real decoder takes it (SkiaSharp reduces it to 8 bits: the high byte, rounded).
        using var folder = new ScratchFolder();
        string path = Path.Combine(folder.Path, "h.png");
        File.WriteAllBytes(path, png);
        var (rgba, _, _) = ImageFiles.ReadRgba8(path, "the height PNG");
        for (int i = 0; i < samples.Length; i++) Assert.InRange(rgba[i * 4], samples[i] / 257 - 1, samples[i] / 257 + 1);
    }

    private static (GenerateResult Result, GenerateRequest Request) PbrResult(int w, int h)
    {
        ImageData Grey(byte v) => new() { Width = w, Height = h, Rgba = [.. Enumerable.Range(0, w * h * 4).Select(i => i % 4 == 3 ? (byte)255 : v)] };
        var request = new GenerateRequest { Prompt = "red bricks", Seed = 7, TileAxes = "x", Pbr = true, VariationSeed = 9, VariationStrength = 0.25 };
        var result = new GenerateResult
        {
            Width = w, Height = h, Rgba = Grey(90).Rgba, Seed = 7,
            Settings = new GenerationSettings { Prompt = "red bricks", Steps = 12, Guidance = 3.5, Sampler = "heun", Width = w, Height = h, Tiling = true, Model = "default" },
            Maps = new MaterialMaps { Width = w, Height = h, Height16 = new byte[w * h * 2], Normal = Grey(128), Roughness = Grey(200), Occlusion = Grey(230) },
        };
        return (result, request);
    }

    [Fact]
    public void APbrResultBecomesItsMapsAndThePipelinesPackedMap()
    {
        var (result, request) = PbrResult(4, 4);
        var files = ResultFiles.Encode(result, request, "red-bricks_7", MapKind.HdrpMask);
        Assert.Equal(["red-bricks_7_albedo.png", "red-bricks_7_height.png", "red-bricks_7_normal.png", "red-bricks_7_roughness.png", "red-bricks_7_ao.png", "red-bricks_7_mask.png"],
            files.Select(f => f.FileName));
        Assert.Equal(files.Select(f => f.Kind), files.Select(f => TextureNames.KindOf(f.FileName)));
        using var folder = new ScratchFolder();
        foreach (var file in files) File.WriteAllBytes(Path.Combine(folder.Path, file.FileName), file.Png);
        var (mask, _, _) = ImageFiles.ReadRgba8(Path.Combine(folder.Path, "red-bricks_7_mask.png"), "mask");
        Assert.Equal([0, 230, 255, 55], mask[..4]); // occlusion in G, smoothness 255 − 200 in A
        string parameters = ImageFiles.ReadPngText(Path.Combine(folder.Path, "red-bricks_7_albedo.png"))["parameters"];
        Assert.StartsWith("red bricks\n", parameters);
        Assert.Contains("Seed: 7", parameters);
        Assert.Contains("Tiling: x", parameters);
        Assert.Contains("Variation seed: 9, Variation strength: 0.25", parameters);

        var urp = ResultFiles.Encode(result, request, "s", MapKind.MetallicSmoothness);
        Assert.Equal("s_metallicsmoothness.png", urp[^1].FileName);
        request.Pbr = false;
        Assert.Equal(["s.png"], ResultFiles.Encode(result, request, "s", MapKind.MetallicSmoothness).Select(f => f.FileName));
    }

    [Fact]
    public void MissingOrMismatchedMapsSaveNothing()
    {
        var (result, request) = PbrResult(4, 4);
        result.Maps!.Normal = new ImageData { Width = 2, Height = 2, Rgba = new byte[16] };
        Assert.Contains("do not match", Assert.Throws<InvalidOperationException>(() => ResultFiles.Encode(result, request, "s", null)).Message);
        result.Maps = null;
        Assert.Contains("no PBR maps", Assert.Throws<InvalidOperationException>(() => ResultFiles.Encode(result, request, "s", null)).Message);
    }

    [Fact]
    public void BatchesCountSeedsAndVariationsCountVariationSeeds()
    {
        Assert.Equal([(5L, (long?)null), (6L, null), (7L, null)], BatchPlan.Seeds(3, 5, variations: false, variationSeed: 100).Select(s => (s.Seed, s.VariationSeed)));
        Assert.Equal([(5L, (long?)100), (5L, 101)], BatchPlan.Seeds(2, 5, variations: true, variationSeed: 100).Select(s => (s.Seed, s.VariationSeed)));
        Assert.Throws<ArgumentException>(() => BatchPlan.Seeds(0, 1, false, 0));
        Assert.Throws<ArgumentException>(() => BatchPlan.Seeds(BatchPlan.MaxCount + 1, 1, false, 0));
        Assert.Throws<ArgumentException>(() => BatchPlan.Seeds(2, long.MaxValue, false, 0));
        Assert.Single(BatchPlan.Seeds(1, long.MaxValue, false, 0));
    }

    [Fact]
    public void TheGalleryHandsOutEachResultOnceAndPutsBackWhatFailed()
    {
        var gallery = new Gallery();
        var maps = new[] { MapKind.Albedo, MapKind.Normal };
        foreach (long seed in new long[] { 1, 2, 3 })
            gallery.Add(GalleryEntry.Saved("Assets/EDiffI", "bricks_" + seed, maps, pbr: true, "bricks", seed, null, 0, "xy"));
        var second = gallery.Take("bricks_2", "Assets/EDiffI")!;
        Assert.Equal(["Assets/EDiffI/bricks_2_albedo.png", "Assets/EDiffI/bricks_2_normal.png"], second.Files);
        Assert.Equal("Assets/EDiffI/bricks_2_normal.png", second.PathOf(MapKind.Normal));
        Assert.Null(second.PathOf(MapKind.Height));
        Assert.Equal("Assets/EDiffI/bricks_2.mat", second.MaterialPath);
        Assert.Null(gallery.Take("bricks_2", "Assets/EDiffI")); // a second click finds it gone
        Assert.Equal(["bricks_1", "bricks_3"], gallery.Entries.Select(e => e.Stem));
        gallery.PutBack(second, 1);
        Assert.Equal(["bricks_1", "bricks_2", "bricks_3"], gallery.Entries.Select(e => e.Stem));
        Assert.Equal(1, gallery.Forget(path => !path.Contains("bricks_3", StringComparison.Ordinal)));
        Assert.Equal(["bricks_1", "bricks_2"], gallery.TakeAll().Select(e => e.Stem));
        Assert.Equal(0, gallery.Count);
        var variation = GalleryEntry.Saved("Assets", "v", maps, false, "p", 4, 9, 0.3, null);
        Assert.Equal("seed 4, variation 9 at 0.3", variation.Caption);
        Assert.Equal("Assets/v.png", variation.Files[0]);
    }
}
