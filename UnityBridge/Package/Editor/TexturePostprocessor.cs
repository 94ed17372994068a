#nullable enable
using System;
using System.Collections.Generic;
using UnityEditor;
using UnityEngine;

namespace EDiffI.Bridge.Unity.Editor
{
    /// <summary>
    /// Applies <see cref="ImportRules"/> to the package's textures on every import (the first one, a reimport, a Library
    /// rebuild): normal maps as NormalMap, sRGB only for the albedo, Repeat on the tiled axes, mipmaps on. A texture is
    /// ours when its importer's userData holds the <see cref="ImportRules.Marker"/>; on the first import the .meta has no
    /// userData yet, so the window announces the path with <see cref="Expect"/> just before importing it.
    /// </summary>
    public sealed class TexturePostprocessor : AssetPostprocessor
    {
        // Main thread only (the window and the importer's callbacks both run there).
        private static readonly Dictionary<string, string> Expected = new Dictionary<string, string>(StringComparer.Ordinal);

        /// <summary>The next import of <paramref name="assetPath"/> is one of ours, with <paramref name="marker"/>.</summary>
        public static void Expect(string assetPath, string marker) => Expected[assetPath] = marker;

        /// <summary>Drops what <see cref="Expect"/> said about <paramref name="assetPath"/>.</summary>
        public static void Forget(string assetPath) => Expected.Remove(assetPath);

        /// <summary>Bumped whenever the rules change, so Unity imports our textures again with the new ones.</summary>
        public override uint GetVersion() => 1;

        /// <summary>Copies <paramref name="rule"/> onto <paramref name="importer"/>.</summary>
        public static void Apply(TextureImporter importer, ImportRule rule)
        {
            if (importer == null) throw new ArgumentNullException(nameof(importer));
            importer.textureType = rule.NormalMap ? TextureImporterType.NormalMap : TextureImporterType.Default;
            importer.sRGBTexture = rule.SRgb;
            importer.mipmapEnabled = rule.Mipmaps;
            importer.wrapModeU = rule.RepeatU ? TextureWrapMode.Repeat : TextureWrapMode.Clamp;
            importer.wrapModeV = rule.RepeatV ? TextureWrapMode.Repeat : TextureWrapMode.Clamp;
        }

        /// <summary>True when <paramref name="importer"/> already has the settings of <paramref name="rule"/>.</summary>
        public static bool Has(TextureImporter importer, ImportRule rule) =>
            importer.textureType == (rule.NormalMap ? TextureImporterType.NormalMap : TextureImporterType.Default)
            && importer.sRGBTexture == rule.SRgb && importer.mipmapEnabled == rule.Mipmaps
            && importer.wrapModeU == (rule.RepeatU ? TextureWrapMode.Repeat : TextureWrapMode.Clamp)
            && importer.wrapModeV == (rule.RepeatV ? TextureWrapMode.Repeat : TextureWrapMode.Clamp);

        // Called by name by Unity before each texture import.
        private void OnPreprocessTexture()
        {
            try
            {
                if (!(assetImporter is TextureImporter importer)) return;
                string? marker = Expected.TryGetValue(assetPath, out var expected) ? expected : importer.userData;
                if (!ImportRules.TryParseMarker(marker, out var kind, out bool tileX, out bool tileY)) return;
                Apply(importer, ImportRules.For(kind, tileX, tileY));
                importer.userData = marker;
            }
            catch (Exception e) // an import must never fail because of us; the texture keeps Unity's settings then
            {
                Debug.LogException(e);
            }
        }
    }
}
