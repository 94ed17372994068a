#nullable enable
using System;

namespace EDiffI.Bridge.Unity.Editor
{
    /// <summary>The texture import settings of one map, decided by <see cref="ImportRules.For"/>; the postprocessor copies them onto the importer.</summary>
    public readonly struct ImportRule : IEquatable<ImportRule>
    {
        /// <summary>A rule.</summary>
        public ImportRule(bool normalMap, bool srgb, bool repeatU, bool repeatV, bool mipmaps)
        {
            NormalMap = normalMap;
            SRgb = srgb;
            RepeatU = repeatU;
            RepeatV = repeatV;
            Mipmaps = mipmaps;
        }

        /// <summary>Import as TextureImporterType.NormalMap (else Default).</summary>
        public bool NormalMap { get; }

        /// <summary>The texels are sRGB colour (only the albedo); data maps are linear.</summary>
        public bool SRgb { get; }

        /// <summary>Wrap mode Repeat along U (the texture tiles along x); else Clamp.</summary>
        public bool RepeatU { get; }

        /// <summary>Wrap mode Repeat along V (the texture tiles along y); else Clamp.</summary>
        public bool RepeatV { get; }

        /// <summary>Generate mipmaps.</summary>
        public bool Mipmaps { get; }

        /// <inheritdoc />
        public bool Equals(ImportRule other) =>
            NormalMap == other.NormalMap && SRgb == other.SRgb && RepeatU == other.RepeatU && RepeatV == other.RepeatV && Mipmaps == other.Mipmaps;

        /// <inheritdoc />
        public override bool Equals(object? obj) => obj is ImportRule other && Equals(other);

        /// <inheritdoc />
        public override int GetHashCode() => (NormalMap ? 1 : 0) | (SRgb ? 2 : 0) | (RepeatU ? 4 : 0) | (RepeatV ? 8 : 0) | (Mipmaps ? 16 : 0);

        /// <summary>Same settings.</summary>
        public static bool operator ==(ImportRule a, ImportRule b) => a.Equals(b);

        /// <summary>Other settings.</summary>
        public static bool operator !=(ImportRule a, ImportRule b) => !a.Equals(b);

        /// <inheritdoc />
        public override string ToString() =>
            $"{(NormalMap ? "normal map" : "default")}, {(SRgb ? "sRGB" : "linear")}, wrap {(RepeatU ? "repeat" : "clamp")}/{(RepeatV ? "repeat" : "clamp")}{(Mipmaps ? ", mipmaps" : "")}";
    }

    /// <summary>
    /// The importer rules of the package's textures, and the marker that tells the postprocessor a texture is ours.
    /// Plain C#, so the tests run it.
    /// </summary>
    /// <remarks>
    /// A texture is ours when its importer's userData holds the marker <c>ediffi-texture map=KIND tile=AXES</c> (written
    /// by the window on the first import, kept in the .meta file), never because of its name alone: a user's own
    /// <c>wall_normal.png</c> is left as it is.
    /// </remarks>
    public static class ImportRules
    {
        private static readonly char[] Space = { ' ' };

        /// <summary>The first word of the marker.</summary>
        public const string MarkerPrefix = "ediffi-texture";

        /// <summary>
        /// The settings of <paramref name="kind"/>: a normal map imports as a normal map; height, roughness, occlusion and the packed
        /// maps are linear (sRGB off); only the albedo is sRGB; each tiled axis repeats, the others clamp; mipmaps always.
        /// </summary>
        public static ImportRule For(MapKind kind, bool tileX, bool tileY) =>
            new ImportRule(normalMap: kind == MapKind.Normal, srgb: kind == MapKind.Albedo, repeatU: tileX, repeatV: tileY, mipmaps: true);

        /// <summary>The marker of one of our maps.</summary>
        public static string Marker(MapKind kind, bool tileX, bool tileY) =>
            $"{MarkerPrefix} map={TextureNames.Suffix(kind).TrimStart('_')} tile={(tileX ? tileY ? "xy" : "x" : tileY ? "y" : "none")}";

        /// <summary>Reads a marker; false for anything else (another tool's userData, an empty string, a damaged marker).</summary>
        public static bool TryParseMarker(string? userData, out MapKind kind, out bool tileX, out bool tileY)
        {
            kind = MapKind.Albedo;
            tileX = tileY = false;
            var words = (userData ?? "").Split(Space, StringSplitOptions.RemoveEmptyEntries);
            if (words.Length != 3 || words[0] != MarkerPrefix || !words[1].StartsWith("map=", StringComparison.Ordinal) || !words[2].StartsWith("tile=", StringComparison.Ordinal))
                return false;
            string map = "_" + words[1].Substring(4);
            bool known = false;
            foreach (MapKind k in Enum.GetValues(typeof(MapKind)))
            {
                if (TextureNames.Suffix(k) != map) continue;
                kind = k;
                known = true;
            }
            switch (words[2].Substring(5))
            {
                case "xy": tileX = tileY = true; break;
                case "x": tileX = true; break;
                case "y": tileY = true; break;
                case "none": break;
                default: return false;
            }
            return known;
        }

        /// <summary>The axes a host's tile-axes string ("x", "y", "xy"; null or empty: none) names.</summary>
        public static (bool X, bool Y) Axes(string? tileAxes) =>
            ((tileAxes ?? "").Contains('x'), (tileAxes ?? "").Contains('y'));
    }
}
