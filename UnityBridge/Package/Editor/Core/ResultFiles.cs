#nullable enable
using System;
using System.Collections.Generic;
using System.Globalization;
using EDiffI.Bridge.Protocol;

namespace EDiffI.Bridge.Unity.Editor
{
    /// <summary>One file of a result, encoded and ready to write.</summary>
    public readonly struct EncodedMap
    {
        /// <summary>An encoded map.</summary>
        public EncodedMap(MapKind kind, string fileName, byte[] png)
        {
            Kind = kind;
            FileName = fileName;
            Png = png;
        }

        /// <summary>What it holds.</summary>
        public MapKind Kind { get; }

        /// <summary>Its file name (no folder).</summary>
        public string FileName { get; }

        /// <summary>The PNG file's bytes.</summary>
        public byte[] Png { get; }
    }

    /// <summary>
    /// A result as the files the window saves: the albedo alone (<c>stem.png</c>), or the PBR set (<c>stem_albedo.png</c>,
    /// <c>_height</c> 16-bit, <c>_normal</c>, <c>_roughness</c>, <c>_ao</c> and the packed smoothness map the pipeline's shader
    /// reads), each PNG carrying the prompt and settings in a <c>parameters</c> text chunk as the CLI writes it. Plain C#, safe
    /// on a worker thread, so the tests run it and the window encodes off the main thread.
    /// </summary>
    public static class ResultFiles
    {
        /// <summary>The files of <paramref name="result"/> (answering <paramref name="request"/>); <paramref name="packed"/> adds that packed map to a PBR set (null: none).</summary>
        /// <exception cref="InvalidOperationException">The request asked for PBR maps and the result has none, or its maps are malformed.</exception>
        public static List<EncodedMap> Encode(GenerateResult result, GenerateRequest request, string stem, MapKind? packed)
        {
            if (result == null) throw new ArgumentNullException(nameof(result));
            if (request == null) throw new ArgumentNullException(nameof(request));
            var text = new[] { new KeyValuePair<string, string>("parameters", Parameters(result, request)) };
            int w = result.Width, h = result.Height;
            var files = new List<EncodedMap>();
            bool pbr = request.Pbr;
            files.Add(new EncodedMap(MapKind.Albedo, TextureNames.FileName(stem, MapKind.Albedo, pbr), PngFile.Rgba8(result.Rgba, w, h, text)));
            if (!pbr) return files;
            var maps = result.Maps ?? throw new InvalidOperationException("The host sent no PBR maps although they were asked for; update the host (it needs the pbr capability).");
            if (maps.Width != w || maps.Height != h || !maps.Normal.IsWellFormed() || !maps.Roughness.IsWellFormed() || !maps.Occlusion.IsWellFormed()
                || maps.Normal.Rgba.Length != w * h * 4 || maps.Roughness.Rgba.Length != w * h * 4 || maps.Occlusion.Rgba.Length != w * h * 4)
                throw new InvalidOperationException($"The host's PBR maps do not match its {w}×{h} image; nothing of this result was saved.");
            files.Add(new EncodedMap(MapKind.Height, TextureNames.FileName(stem, MapKind.Height, true), PngFile.Grey16(maps.Height16, w, h, text)));
            files.Add(new EncodedMap(MapKind.Normal, TextureNames.FileName(stem, MapKind.Normal, true), PngFile.Rgba8(maps.Normal.Rgba, w, h, text)));
            files.Add(new EncodedMap(MapKind.Roughness, TextureNames.FileName(stem, MapKind.Roughness, true), PngFile.Rgba8(maps.Roughness.Rgba, w, h, text)));
            files.Add(new EncodedMap(MapKind.Occlusion, TextureNames.FileName(stem, MapKind.Occlusion, true), PngFile.Rgba8(maps.Occlusion.Rgba, w, h, text)));
            if (packed == MapKind.MetallicSmoothness)
                files.Add(new EncodedMap(MapKind.MetallicSmoothness, TextureNames.FileName(stem, MapKind.MetallicSmoothness, true),
                    PngFile.Rgba8(MapPacking.MetallicSmoothness(maps.Roughness.Rgba), w, h, text)));
            else if (packed == MapKind.HdrpMask)
                files.Add(new EncodedMap(MapKind.HdrpMask, TextureNames.FileName(stem, MapKind.HdrpMask, true),
                    PngFile.Rgba8(MapPacking.HdrpMask(maps.Roughness.Rgba, maps.Occlusion.Rgba), w, h, text)));
            else if (packed != null)
                throw new ArgumentOutOfRangeException(nameof(packed), packed, "only the metallic-smoothness map and HDRP's mask map are packed");
            return files;
        }

        /// <summary>The prompt, then one line of settings, as A1111-style tools read a PNG's "parameters" (the CLI writes the same form).</summary>
        public static string Parameters(GenerateResult result, GenerateRequest request)
        {
            var inv = CultureInfo.InvariantCulture;
            var s = result.Settings ?? new GenerationSettings();
            var parts = new List<string>
            {
                "Steps: " + s.Steps.ToString(inv), "Sampler: " + s.Sampler, "CFG scale: " + s.Guidance.ToString(inv),
                "Seed: " + result.Seed.ToString(inv), $"Size: {result.Width.ToString(inv)}x{result.Height.ToString(inv)}", "Model: " + s.Model,
            };
            string axes = string.IsNullOrEmpty(request.TileAxes) ? (request.Tiling ? "xy" : "") : request.TileAxes!;
            if (s.Tiling && axes.Length > 0) parts.Add("Tiling: " + axes);
            if (request.InitImage != null)
                parts.Add((request.Mask != null ? "Edit: inpaint" : "Edit: img2img") + (request.Strength is { } st ? ", Strength: " + st.ToString(inv) : ""));
            if (request.VariationSeed is { } v && request.VariationStrength > 0)
                parts.Add("Variation seed: " + v.ToString(inv) + ", Variation strength: " + request.VariationStrength.ToString(inv));
            return (s.Prompt.Length > 0 ? s.Prompt : request.Prompt) + "\n" + string.Join(", ", parts);
        }
    }
}
