#nullable enable
using System;
using System.Collections.Generic;

namespace EDiffI.Bridge.Unity.Editor
{
    /// <summary>
    /// One saved result waiting in the gallery for keep or discard: the asset paths of its files and what it was drawn with.
    /// Public fields, so Unity serializes it with the window and a script reload keeps the gallery.
    /// </summary>
    [Serializable]
    public sealed class GalleryEntry
    {
        /// <summary>The file-name stem (prompt slug, seed, variation).</summary>
        public string Stem = "";
        /// <summary>The Assets folder the files are in.</summary>
        public string Folder = "";
        /// <summary>The prompt.</summary>
        public string Prompt = "";
        /// <summary>The seed.</summary>
        public long Seed;
        /// <summary>Whether a variation seed was mixed in.</summary>
        public bool HasVariation;
        /// <summary>The variation seed, when <see cref="HasVariation"/>.</summary>
        public long VariationSeed;
        /// <summary>The variation strength, when <see cref="HasVariation"/>.</summary>
        public double VariationStrength;
        /// <summary>Tiled axes: "", "x", "y" or "xy".</summary>
        public string TileAxes = "";
        /// <summary>Whether the files are a PBR set.</summary>
        public bool Pbr;
        /// <summary>The maps saved, in the order of <see cref="Files"/>.</summary>
        public List<MapKind> Maps = new List<MapKind>();
        /// <summary>The asset path of each saved file.</summary>
        public List<string> Files = new List<string>();

        /// <summary>The entry of a result saved as <paramref name="stem"/>'s files of <paramref name="maps"/> under <paramref name="folder"/>.</summary>
        public static GalleryEntry Saved(string folder, string stem, IReadOnlyList<MapKind> maps, bool pbr, string prompt, long seed,
            long? variationSeed, double variationStrength, string? tileAxes)
        {
            var entry = new GalleryEntry
            {
                Stem = stem, Folder = folder, Prompt = prompt, Seed = seed, HasVariation = variationSeed.HasValue,
                VariationSeed = variationSeed ?? 0, VariationStrength = variationSeed.HasValue ? variationStrength : 0, TileAxes = tileAxes ?? "", Pbr = pbr,
            };
            foreach (var kind in maps)
            {
                entry.Maps.Add(kind);
                entry.Files.Add(folder + "/" + TextureNames.FileName(stem, kind, pbr));
            }
            return entry;
        }

        /// <summary>The asset path of one map; null when the entry has none of it.</summary>
        public string? PathOf(MapKind kind)
        {
            int i = Maps.IndexOf(kind);
            return i < 0 || i >= Files.Count ? null : Files[i];
        }

        /// <summary>Where keeping it puts the material.</summary>
        public string MaterialPath => Folder + "/" + TextureNames.MaterialFileName(Stem);

        /// <summary>A line for the gallery.</summary>
        public string Caption => HasVariation
            ? $"seed {Seed}, variation {VariationSeed} at {VariationStrength:0.##}"
            : $"seed {Seed}";
    }

    /// <summary>The results of the last batches, each waiting to be kept or discarded. Plain C#, so the tests run it.</summary>
    [Serializable]
    public sealed class Gallery
    {
        /// <summary>The entries, oldest first. Public for Unity's serializer; change it through the methods.</summary>
        public List<GalleryEntry> Entries = new List<GalleryEntry>();

        /// <summary>How many results wait for a decision.</summary>
        public int Count => Entries.Count;

        /// <summary>Adds a saved result.</summary>
        public void Add(GalleryEntry entry)
        {
            if (entry == null) throw new ArgumentNullException(nameof(entry));
            Entries.Add(entry);
        }

        /// <summary>
        /// Takes the entry with <paramref name="stem"/> out of the gallery, to keep or to discard; null when it is not there
        /// (decided already, for example by a second click before the window redrew).
        /// </summary>
        public GalleryEntry? Take(string stem, string folder)
        {
            int i = Entries.FindIndex(e => e.Stem == stem && e.Folder == folder);
            if (i < 0) return null;
            var entry = Entries[i];
            Entries.RemoveAt(i);
            return entry;
        }

        /// <summary>Takes every entry out, oldest first.</summary>
        public List<GalleryEntry> TakeAll()
        {
            var all = new List<GalleryEntry>(Entries);
            Entries.Clear();
            return all;
        }

        /// <summary>Puts back an entry whose keeping or discarding failed, where it was (by age), so nothing is lost from view.</summary>
        public void PutBack(GalleryEntry entry, int index)
        {
            if (entry == null) throw new ArgumentNullException(nameof(entry));
            Entries.Insert(Math.Max(0, Math.Min(index, Entries.Count)), entry);
        }

        /// <summary>Drops entries none of whose files exist any more (deleted by hand in the Project window).</summary>
        public int Forget(Func<string, bool> exists)
        {
            if (exists == null) throw new ArgumentNullException(nameof(exists));
            return Entries.RemoveAll(e => !e.Files.Exists(f => exists(f)));
        }
    }
}
