#nullable enable
using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;

namespace EDiffI.Bridge.Unity.Editor
{
    /// <summary>The files a result is saved as: which map each one holds.</summary>
    public enum MapKind
    {
        /// <summary>The colour texture itself (sRGB).</summary>
        Albedo,
        /// <summary>Height, 16-bit grey, white high (linear).</summary>
        Height,
        /// <summary>Tangent-space normal map (OpenGL convention, as Unity reads it).</summary>
        Normal,
        /// <summary>Roughness, grey (linear).</summary>
        Roughness,
        /// <summary>Ambient occlusion, grey, white unoccluded (linear).</summary>
        Occlusion,
        /// <summary>Built-in Standard and URP Lit: metallic in R, smoothness (1 − roughness) in A (linear).</summary>
        MetallicSmoothness,
        /// <summary>HDRP Lit's mask map: metallic R, occlusion G, detail mask B, smoothness A (linear).</summary>
        HdrpMask,
    }

    /// <summary>
    /// File names of saved results: a stem from the prompt and the seed (and the variation, when there is one), then one
    /// suffix per map. Plain C#, so the tests run it.
    /// </summary>
    public static class TextureNames
    {
        /// <summary>Longest prompt slug in a file name.</summary>
        public const int MaxSlugLength = 40;

        private static readonly (MapKind Kind, string Suffix)[] Suffixes =
        {
            (MapKind.Albedo, "_albedo"), (MapKind.Height, "_height"), (MapKind.Normal, "_normal"), (MapKind.Roughness, "_roughness"),
            (MapKind.Occlusion, "_ao"), (MapKind.MetallicSmoothness, "_metallicsmoothness"), (MapKind.HdrpMask, "_mask"),
        };

        private const string Accented = "àáâãäåçèéêëìíîïñòóôõöøùúûüýÿ";
        private const string Plain = "aaaaaaceeeeiiiinoooooouuuuyy";

        /// <summary>The prompt as a file-name part: lower-case letters and digits, other runs as one '-', at most <see cref="MaxSlugLength"/> characters.</summary>
        public static string Slug(string? prompt)
        {
            var slug = new StringBuilder();
            foreach (char c in prompt ?? "")
            {
                if (slug.Length >= MaxSlugLength) break;
                char lower = char.ToLowerInvariant(c);
                int accented = Accented.IndexOf(lower);
                if (lower < 128 && char.IsLetterOrDigit(lower)) slug.Append(lower);
                else if (accented >= 0) slug.Append(Plain[accented]); // é → e, the same on every runtime (no Unicode tables needed)
                else if (slug.Length > 0 && slug[slug.Length - 1] != '-') slug.Append('-');
            }
            string text = slug.ToString().Trim('-');
            return text.Length == 0 ? "texture" : text;
        }

        /// <summary>
        /// The stem of a result: <c>slug_seed</c>, or <c>slug_seed_var{variationSeed}-{strength in percent}</c> for a variation.
        /// </summary>
        public static string Stem(string? prompt, long seed, long? variationSeed = null, double variationStrength = 0)
        {
            string stem = Slug(prompt) + "_" + seed.ToString(CultureInfo.InvariantCulture);
            if (variationSeed is { } v && variationStrength > 0)
                stem += "_var" + v.ToString(CultureInfo.InvariantCulture) + "-" + Math.Round(variationStrength * 100).ToString(CultureInfo.InvariantCulture);
            return stem;
        }

        /// <summary>The file name of one map: <c>stem.png</c> for a lone albedo, <c>stem_{map}.png</c> in a PBR set.</summary>
        public static string FileName(string stem, MapKind kind, bool pbrSet) =>
            kind == MapKind.Albedo && !pbrSet ? stem + ".png" : stem + Suffix(kind) + ".png";

        /// <summary>The suffix of <paramref name="kind"/> (for example "_normal").</summary>
        public static string Suffix(MapKind kind)
        {
            foreach (var (k, suffix) in Suffixes)
                if (k == kind) return suffix;
            throw new ArgumentOutOfRangeException(nameof(kind), kind, "no such map");
        }

        /// <summary>The map a file name's suffix names (<c>bricks_3_normal.png</c>: normal); a name without a known suffix is an albedo.</summary>
        public static MapKind KindOf(string fileName)
        {
            string name = System.IO.Path.GetFileNameWithoutExtension(fileName ?? "");
            foreach (var (kind, suffix) in Suffixes)
                if (name.EndsWith(suffix, StringComparison.OrdinalIgnoreCase)) return kind;
            return MapKind.Albedo;
        }

        /// <summary>
        /// <paramref name="stem"/>, or <c>stem-2</c>, <c>stem-3</c>... : the first whose files (the maps of <paramref name="kinds"/> and the
        /// material) <paramref name="taken"/> says are all free, so a new result never overwrites an old one.
        /// </summary>
        public static string UniqueStem(string stem, IReadOnlyCollection<MapKind> kinds, bool pbrSet, Func<string, bool> taken)
        {
            if (taken == null) throw new ArgumentNullException(nameof(taken));
            for (int n = 1; ; n++)
            {
                string candidate = n == 1 ? stem : stem + "-" + n.ToString(CultureInfo.InvariantCulture);
                bool free = !taken(MaterialFileName(candidate));
                foreach (var kind in kinds)
                    free &= !taken(FileName(candidate, kind, pbrSet));
                if (free) return candidate;
            }
        }

        /// <summary>The material file of a stem.</summary>
        public static string MaterialFileName(string stem) => stem + ".mat";
    }
}
