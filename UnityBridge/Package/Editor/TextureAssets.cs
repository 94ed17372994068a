#nullable enable
using System;
using System.Collections.Generic;
using System.IO;
using EDiffI.Bridge.Protocol;
using UnityEditor;
using UnityEngine;

namespace EDiffI.Bridge.Unity.Editor
{
    /// <summary>Writes a result as a PNG under Assets/ and imports it as a Texture2D.</summary>
    public static class TextureAssets
    {
        /// <summary>Saves <paramref name="result"/> under <paramref name="folder"/> (a folder of Assets/); returns the asset path.</summary>
        /// <exception cref="ArgumentException">The folder is not inside Assets/.</exception>
        public static string Save(GenerateResult result, string folder, bool tiling)
        {
            if (result == null) throw new ArgumentNullException(nameof(result));
            folder = (folder ?? "").Trim().Replace('\\', '/').TrimEnd('/');
            if (folder.Length == 0) folder = "Assets/EDiffI";
            if (folder != "Assets" && !folder.StartsWith("Assets/", StringComparison.Ordinal) || folder.Contains(".."))
                throw new ArgumentException($"Textures are saved inside the project's Assets folder; '{folder}' is not. Set 'Save textures in' to Assets/ or a folder below it.", nameof(folder));
            string full = Path.Combine(Path.GetDirectoryName(Application.dataPath) ?? "", folder);
            Directory.CreateDirectory(full);
            string name = Sanitize(result.Settings.Prompt) + "-" + result.Seed + ".png";
            string assetPath = folder + "/" + name;
            try
            {
                var texture = TexturePixels.ToTexture(result.Rgba, result.Width, result.Height, mipmaps: false);
                try
                {
                    File.WriteAllBytes(Path.Combine(full, name), texture.EncodeToPNG());
                }
                finally
                {
                    UnityEngine.Object.DestroyImmediate(texture);
                }
            }
            finally
            {
                ImageBuffers.Return(result.Rgba);
            }
            AssetDatabase.ImportAsset(assetPath, ImportAssetOptions.ForceUpdate);
            if (AssetImporter.GetAtPath(assetPath) is TextureImporter importer)
            {
                // Said explicitly: a 2D project's default would import the PNG as a Sprite.
                importer.textureType = TextureImporterType.Default;
                importer.sRGBTexture = true;
                importer.mipmapEnabled = true;
                importer.wrapMode = tiling ? TextureWrapMode.Repeat : TextureWrapMode.Clamp;
                importer.SaveAndReimport();
            }
            return assetPath;
        }

        private static string Sanitize(string prompt)
        {
            var chars = new List<char>();
            foreach (char c in prompt ?? "")
            {
                if (chars.Count >= 40) break;
                chars.Add(char.IsLetterOrDigit(c) ? char.ToLowerInvariant(c) : '-');
            }
            string name = new string(chars.ToArray()).Trim('-');
            return name.Length == 0 ? "texture" : name;
        }
    }
}
