#nullable enable
using System;
using System.Collections.Generic;
using System.IO;
using EDiffI.Bridge.Protocol;
using UnityEditor;
using UnityEngine;
using UnityEngine.Rendering;

namespace EDiffI.Bridge.Unity.Editor
{
    /// <summary>
    /// The package's asset work, on the editor's main thread: results saved under Assets/ and imported by the importer
    /// rules, materials made for the active render pipeline, discarded results moved to the trash, and images read from
    /// texture assets.
    /// </summary>
    public static class TextureAssets
    {
        /// <summary>The folder's asset path, normalised ("Assets" or "Assets/…").</summary>
        /// <exception cref="ArgumentException">The folder is not inside Assets/.</exception>
        public static string CheckFolder(string? folder)
        {
            folder = (folder ?? "").Trim().Replace('\\', '/').TrimEnd('/');
            if (folder.Length == 0) folder = "Assets/EDiffI";
            if (folder != "Assets" && !folder.StartsWith("Assets/", StringComparison.Ordinal) || folder.Contains(".."))
                throw new ArgumentException($"Textures are saved inside the project's Assets folder; '{folder}' is not. Set 'Save in' to Assets/ or a folder below it.", nameof(folder));
            return folder;
        }

        /// <summary>Where an asset path is on disk.</summary>
        public static string FullPath(string assetPath) => Path.Combine(Path.GetDirectoryName(Application.dataPath) ?? "", assetPath);

        /// <summary>The render pipeline the project renders with now (the quality level's, else the graphics settings').</summary>
        public static RenderPipelineKind CurrentPipeline()
        {
            var asset = GraphicsSettings.currentRenderPipeline;
            return MaterialMapping.PipelineOf(asset == null ? null : asset.GetType().FullName);
        }

        /// <summary>
        /// Writes <paramref name="files"/> under <paramref name="folder"/> as <paramref name="stem"/> (numbered when taken), imports
        /// them with the importer rules and returns the gallery entry. On failure nothing half-written is left behind.
        /// </summary>
        public static GalleryEntry Save(IReadOnlyList<EncodedMap> files, string folder, string stem, GenerateRequest request, GenerateResult result)
        {
            folder = CheckFolder(folder);
            string full = FullPath(folder);
            EnsureFolder(folder);
            bool pbr = request.Pbr;
            var kinds = new List<MapKind>();
            foreach (var file in files) kinds.Add(file.Kind);
            stem = TextureNames.UniqueStem(stem, kinds, pbr, name => File.Exists(Path.Combine(full, name)));
            var (tileX, tileY) = TileAxesOf(request);
            var entry = GalleryEntry.Saved(folder, stem, kinds, pbr, request.Prompt, result.Seed,
                request.VariationStrength > 0 ? request.VariationSeed : null, request.VariationStrength, AxesName(tileX, tileY));
            var written = new List<string>();
            try
            {
                for (int i = 0; i < files.Count; i++)
                {
                    File.WriteAllBytes(FullPath(entry.Files[i]), files[i].Png);
                    written.Add(entry.Files[i]);
                }
            }
            catch (Exception e) when (e is IOException || e is UnauthorizedAccessException)
            {
                foreach (string path in written) TryDelete(FullPath(path));
                throw new IOException($"Could not write {stem} under {folder}: {e.Message}. Nothing of this result was kept; check the folder and the free space, then generate again.", e);
            }
            Import(entry, tileX, tileY);
            return entry;
        }

        // Imports the files in one batch; the postprocessor applies the rules. Afterwards each importer is checked and, where
        // the marker or a setting did not stick (an import in a worker process sees no Expect), set here and imported again.
        private static void Import(GalleryEntry entry, bool tileX, bool tileY)
        {
            var markers = new string[entry.Files.Count];
            for (int i = 0; i < entry.Files.Count; i++)
            {
                markers[i] = ImportRules.Marker(entry.Maps[i], tileX, tileY);
                TexturePostprocessor.Expect(entry.Files[i], markers[i]);
            }
            try
            {
                AssetDatabase.StartAssetEditing();
                try
                {
                    foreach (string path in entry.Files) AssetDatabase.ImportAsset(path, ImportAssetOptions.ForceUpdate);
                }
                finally
                {
                    AssetDatabase.StopAssetEditing(); // the imports run here
                }
            }
            finally
            {
                foreach (string path in entry.Files) TexturePostprocessor.Forget(path);
            }
            for (int i = 0; i < entry.Files.Count; i++)
            {
                if (!(AssetImporter.GetAtPath(entry.Files[i]) is TextureImporter importer)) continue;
                var rule = ImportRules.For(entry.Maps[i], tileX, tileY);
                if (importer.userData == markers[i] && TexturePostprocessor.Has(importer, rule)) continue;
                importer.userData = markers[i];
                TexturePostprocessor.Apply(importer, rule);
                importer.SaveAndReimport();
            }
        }

        /// <summary>
        /// Makes the material of a kept result for <paramref name="pipeline"/> in one undo step (with its assignment to the
        /// selected renderers when <paramref name="assignToSelection"/>); returns its path and how many renderers took it.
        /// </summary>
        /// <exception cref="NotSupportedException">The pipeline is not one the package knows.</exception>
        /// <exception cref="InvalidOperationException">The pipeline's shader is not in the project, or the albedo is gone.</exception>
        public static (string Path, int Assigned) CreateMaterial(GalleryEntry entry, RenderPipelineKind pipeline, bool assignToSelection)
        {
            var layout = MaterialMapping.For(pipeline);
            var shader = Shader.Find(layout.Shader);
            if (shader == null)
                throw new InvalidOperationException($"The shader '{layout.Shader}' of the {pipeline} pipeline is not in this project, so no material was made (the textures are kept).");
            var present = new List<MapKind>();
            var textures = new List<(string Property, Texture2D Texture)>();
            foreach (var slot in layout.Slots)
            {
                string? path = entry.PathOf(slot.Map);
                var texture = path == null ? null : AssetDatabase.LoadAssetAtPath<Texture2D>(path);
                if (texture == null) continue;
                textures.Add((slot.Property, texture));
                present.Add(slot.Map);
            }
            if (!present.Contains(MapKind.Albedo))
                throw new InvalidOperationException($"The texture of {entry.Stem} is no longer in {entry.Folder}, so no material was made.");

            Undo.IncrementCurrentGroup();
            int group = Undo.GetCurrentGroup();
            Undo.SetCurrentGroupName("Create EDiffI material");
            var material = new Material(shader) { name = entry.Stem };
            foreach (var (property, texture) in textures) material.SetTexture(property, texture);
            foreach (string keyword in MaterialMapping.Keywords(layout, present)) material.EnableKeyword(keyword);
            foreach (var pair in layout.FloatsFor(present))
                if (material.HasProperty(pair.Key)) material.SetFloat(pair.Key, pair.Value);
            string materialPath = AssetDatabase.GenerateUniqueAssetPath(entry.MaterialPath);
            AssetDatabase.CreateAsset(material, materialPath);
            Undo.RegisterCreatedObjectUndo(material, "Create EDiffI material");
            int assigned = 0;
            if (assignToSelection)
            {
                foreach (var gameObject in Selection.gameObjects)
                {
                    var renderer = gameObject.GetComponent<Renderer>();
                    if (renderer == null) continue;
                    Undo.RecordObject(renderer, "Assign EDiffI material");
                    renderer.sharedMaterial = material;
                    assigned++;
                }
            }
            Undo.CollapseUndoOperations(group);
            return (materialPath, assigned);
        }

        /// <summary>Moves the files of a discarded result to the system's trash (recoverable there); returns those that could not be moved.</summary>
        public static List<string> Trash(GalleryEntry entry)
        {
            var failed = new List<string>();
            foreach (string path in entry.Files)
                if (File.Exists(FullPath(path)) && !AssetDatabase.MoveAssetToTrash(path)) failed.Add(path);
            return failed;
        }

        /// <summary>
        /// The pixels of a texture asset as a bridge image. PNG and JPEG assets are read from their file, whatever their import
        /// settings; other textures must have Read/Write enabled.
        /// </summary>
        /// <exception cref="InvalidOperationException">The texture cannot be read; the message says what to change.</exception>
        public static ImageData ReadImage(Texture2D texture, string what)
        {
            if (texture == null) throw new InvalidOperationException($"Choose a texture for the {what}.");
            string path = AssetDatabase.GetAssetPath(texture);
            string extension = Path.GetExtension(path ?? "").ToLowerInvariant();
            if (path != null && (extension == ".png" || extension == ".jpg" || extension == ".jpeg") && File.Exists(FullPath(path)))
            {
                var copy = new Texture2D(2, 2);
                try
                {
                    if (!copy.LoadImage(File.ReadAllBytes(FullPath(path))))
                        throw new InvalidOperationException($"The {what} '{path}' is not a PNG or JPEG Unity can read.");
                    return TexturePixels.FromPixels(copy.GetPixels32(), copy.width, copy.height);
                }
                finally
                {
                    UnityEngine.Object.DestroyImmediate(copy);
                }
            }
            if (!texture.isReadable)
                throw new InvalidOperationException($"The {what} '{texture.name}' is not a PNG or JPEG file and not readable: tick Read/Write in its import settings, then try again.");
            return TexturePixels.FromPixels(texture.GetPixels32(), texture.width, texture.height);
        }

        // Creates the folder and any missing parent through the asset database, so each gets its .meta before our files arrive.
        private static void EnsureFolder(string folder)
        {
            if (AssetDatabase.IsValidFolder(folder)) return;
            int slash = folder.LastIndexOf('/');
            string parent = folder.Substring(0, slash);
            EnsureFolder(parent);
            string name = folder.Substring(slash + 1);
            if (Directory.Exists(FullPath(folder))) AssetDatabase.ImportAsset(folder); // on disk already, unknown to Unity yet
            else AssetDatabase.CreateFolder(parent, name);
            if (!AssetDatabase.IsValidFolder(folder))
                throw new IOException($"Could not create the folder {folder}; check that its name is valid and the project is writable.");
        }

        private static (bool X, bool Y) TileAxesOf(GenerateRequest request) =>
            string.IsNullOrEmpty(request.TileAxes) ? (request.Tiling, request.Tiling) : ImportRules.Axes(request.TileAxes);

        private static string AxesName(bool x, bool y) => x ? y ? "xy" : "x" : y ? "y" : "";

        private static void TryDelete(string path)
        {
            try
            {
                File.Delete(path);
            }
            catch (Exception e) when (e is IOException || e is UnauthorizedAccessException)
            {
                Debug.LogWarning($"Could not remove the half-saved file {path}: {e.Message}");
            }
        }
    }
}
