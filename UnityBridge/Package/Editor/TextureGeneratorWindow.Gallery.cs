#nullable enable
using System;
using UnityEditor;
using UnityEngine;

namespace EDiffI.Bridge.Unity.Editor
{
    // The gallery of saved results and what keep and discard do with them.
    public sealed partial class TextureGeneratorWindow
    {
        private void GallerySection()
        {
            if (_gallery.Count == 0) return;
            EditorGUILayout.LabelField($"Gallery: {_gallery.Count} to keep or discard");
            // Deciding while a batch runs is fine: the results still to come join the gallery afterwards.
            GUILayout.BeginHorizontal();
            if (GUILayout.Button("Keep all")) Post(() => { foreach (var e in _gallery.Entries.ToArray()) Keep(e); });
            if (GUILayout.Button("Discard all")) Post(() => { foreach (var e in _gallery.Entries.ToArray()) Discard(e); });
            GUILayout.EndHorizontal();
            foreach (var entry in _gallery.Entries.ToArray())
            {
                GUILayout.BeginHorizontal();
                var texture = AssetDatabase.LoadAssetAtPath<Texture2D>(entry.Files.Count > 0 ? entry.Files[0] : "");
                var thumbnail = GUILayoutUtility.GetRect(64, 64, GUILayout.Width(64), GUILayout.Height(64));
                if (texture != null) GUI.DrawTexture(thumbnail, texture, ScaleMode.ScaleToFit);
                EditorGUILayout.LabelField(entry.Caption + (entry.Pbr ? ", PBR" : "") + (entry.TileAxes.Length > 0 ? ", tiles " + entry.TileAxes : ""));
                // Decided in the update loop, not in the middle of drawing: assets change there.
                if (GUILayout.Button("Keep", GUILayout.Width(60))) Post(() => Keep(entry));
                if (GUILayout.Button("Discard", GUILayout.Width(60))) Post(() => Discard(entry));
                GUILayout.EndHorizontal();
            }
        }

        private void Keep(GalleryEntry entry)
        {
            int index = _gallery.Entries.IndexOf(entry);
            var taken = _gallery.Take(entry.Stem, entry.Folder);
            if (taken == null) return; // decided already
            if (!_materialOnKeep)
            {
                SetStatus($"Kept {taken.Folder}/{taken.Stem}.", MessageType.Info);
                return;
            }
            try
            {
                var (path, assigned) = TextureAssets.CreateMaterial(taken, TextureAssets.CurrentPipeline(), _assignToSelection);
                SetStatus($"Kept {taken.Stem}: material {path}" + (_assignToSelection ? $", assigned to {assigned} renderer(s)." : "."), MessageType.Info);
            }
            catch (Exception e) when (e is NotSupportedException || e is InvalidOperationException)
            {
                SetStatus($"Kept the textures of {taken.Stem}. {e.Message}", MessageType.Warning);
            }
            catch (Exception e) // a batch may be running: say it without ending the window's busy state
            {
                _gallery.PutBack(taken, index); // still there to try again
                Debug.LogException(e);
                SetStatus($"Making the material of {taken.Stem} failed: {e.Message} (details in the Console). It is still in the gallery.", MessageType.Error);
            }
        }

        private void Discard(GalleryEntry entry)
        {
            int index = _gallery.Entries.IndexOf(entry);
            var taken = _gallery.Take(entry.Stem, entry.Folder);
            if (taken == null) return;
            var failed = TextureAssets.Trash(taken);
            if (failed.Count == 0)
            {
                SetStatus($"Moved {taken.Stem} to the trash.", MessageType.Info);
                return;
            }
            _gallery.PutBack(taken, index);
            SetStatus("Could not move these to the trash (are they open elsewhere?): " + string.Join(", ", failed), MessageType.Error);
        }
    }
}
