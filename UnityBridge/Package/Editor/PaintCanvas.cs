#nullable enable
using System;
using System.Collections.Generic;
using EDiffI.Bridge.Protocol;
using UnityEditor;
using UnityEngine;

namespace EDiffI.Bridge.Unity.Editor
{
    /// <summary>
    /// A small square canvas painted with the mouse: the paint-with-words scribble (colours of a legend, each naming a
    /// phrase of the prompt), an init image sketched in any colours, or an inpainting mask (white regenerates, black
    /// keeps). Serializable, so the window's script reloads keep the painting.
    /// </summary>
    [Serializable]
    public sealed class PaintCanvas
    {
        /// <summary>The side of a canvas made by the parameterless constructor.</summary>
        public const int DefaultSide = 64;

        [SerializeField] private int _side;
        [SerializeField] private Color32[] _pixels;
        [SerializeField] private List<Color> _colours = new List<Color> { new Color(1, 0, 0, 1), new Color(0, 0, 1, 1) };
        [SerializeField] private List<string> _phrases = new List<string> { "", "" };
        [SerializeField] private int _brush;
        [NonSerialized] private Texture2D? _texture;

        /// <summary>A blank (black) canvas of <see cref="DefaultSide"/>² pixels.</summary>
        public PaintCanvas() : this(DefaultSide) { }

        /// <summary>A blank (black) canvas of <paramref name="side"/>² pixels.</summary>
        public PaintCanvas(int side)
        {
            if (side <= 0) throw new ArgumentOutOfRangeException(nameof(side), side, "a canvas has at least one pixel");
            _side = side;
            _pixels = new Color32[side * side];
            Clear();
        }

        /// <summary>A blank (black) canvas of <paramref name="side"/>² pixels whose brushes are <paramref name="colours"/>.</summary>
        public PaintCanvas(int side, params Color[] colours) : this(side)
        {
            if (colours == null || colours.Length == 0) throw new ArgumentException("a canvas needs at least one brush colour", nameof(colours));
            _colours = new List<Color>(colours);
            _phrases = new List<string>();
            foreach (var _ in colours) _phrases.Add("");
        }

        /// <summary>A canvas for an inpainting mask: a white brush (regenerate) and a black one (keep), all black (keep) at first.</summary>
        public static PaintCanvas Mask() => new PaintCanvas(DefaultSide, new Color(1, 1, 1, 1), new Color(0, 0, 0, 1));

        /// <summary>
        /// Draws the brushes and the canvas, and paints where the mouse drags. With <paramref name="phrases"/> each brush names
        /// a phrase (paint-with-words); <paramref name="editableColours"/> lets the colours be changed and added.
        /// </summary>
        public void Draw(bool phrases = true, bool editableColours = true)
        {
            Repair();
            for (int i = 0; i < _colours.Count; i++)
            {
                GUILayout.BeginHorizontal();
                if (GUILayout.Button(i == _brush ? "●" : "○", GUILayout.Width(24))) _brush = i;
                if (editableColours) _colours[i] = EditorGUILayout.ColorField(_colours[i], GUILayout.Width(60));
                else EditorGUILayout.LabelField(_colours[i].r > 0.5f ? "white: regenerate" : "black: keep");
                if (phrases) _phrases[i] = EditorGUILayout.TextField("phrase", _phrases[i]);
                GUILayout.EndHorizontal();
            }
            GUILayout.BeginHorizontal();
            if (editableColours && GUILayout.Button("Add colour")) { _colours.Add(new Color(0, 1, 0, 1)); _phrases.Add(""); }
            if (GUILayout.Button("Clear canvas")) Clear();
            GUILayout.EndHorizontal();

            var area = GUILayoutUtility.GetRect(256, 256, GUILayout.Width(256));
            var e = Event.current;
            if ((e.type == EventType.MouseDown || e.type == EventType.MouseDrag) && area.Contains(e.mousePosition))
            {
                int x = (int)((e.mousePosition.x - area.x) / area.width * _side);
                int y = _side - 1 - (int)((e.mousePosition.y - area.y) / area.height * _side); // Unity rows start at the bottom
                Paint(x, y, _colours[_brush]);
                e.Use();
            }
            if (_texture == null || _texture.width != _side) _texture = new Texture2D(_side, _side, TextureFormat.RGBA32, false);
            _texture.SetPixels32(_pixels);
            _texture.Apply();
            GUI.DrawTexture(area, _texture);
        }

        /// <summary>The painting as a bridge image (the scribble, the init sketch or the mask).</summary>
        public ImageData Scribble()
        {
            Repair();
            return TexturePixels.FromPixels(_pixels, _side, _side);
        }

        /// <summary>The legend: one entry per colour that has a phrase.</summary>
        /// <exception cref="InvalidOperationException">No colour has a phrase.</exception>
        public List<LegendEntry> Legend()
        {
            Repair();
            var legend = new List<LegendEntry>();
            for (int i = 0; i < _colours.Count; i++)
            {
                if ((_phrases[i] ?? "").Trim().Length == 0) continue;
                Color32 c = _colours[i];
                legend.Add(new LegendEntry { Rgb = (c.r << 16) | (c.g << 8) | c.b, Phrase = _phrases[i].Trim() });
            }
            if (legend.Count == 0) throw new InvalidOperationException("Paint with words is on but no colour names a phrase of the prompt.");
            return legend;
        }

        /// <summary>Destroys the preview texture (made again on the next <see cref="Draw"/>).</summary>
        public void ReleaseTexture()
        {
            if (_texture != null) UnityEngine.Object.DestroyImmediate(_texture);
            _texture = null;
        }

        // Serialized data from an older version, or edited by hand, may not fit together: start over then.
        private void Repair()
        {
            if (_side <= 0) _side = DefaultSide;
            if (_pixels == null || _pixels.Length != _side * _side)
            {
                _pixels = new Color32[_side * _side];
                Clear();
            }
            if (_colours == null || _phrases == null || _colours.Count == 0 || _colours.Count != _phrases.Count)
            {
                _colours = new List<Color> { new Color(1, 0, 0, 1), new Color(0, 0, 1, 1) };
                _phrases = new List<string> { "", "" };
            }
            _brush = Math.Max(0, Math.Min(_colours.Count - 1, _brush));
        }

        private void Clear()
        {
            for (int i = 0; i < _pixels.Length; i++) _pixels[i] = new Color32(0, 0, 0, 255);
        }

        private void Paint(int cx, int cy, Color colour)
        {
            Color32 c = colour;
            c.a = 255;
            const int radius = 3;
            for (int y = Math.Max(0, cy - radius); y <= Math.Min(_side - 1, cy + radius); y++)
                for (int x = Math.Max(0, cx - radius); x <= Math.Min(_side - 1, cx + radius); x++)
                    if ((x - cx) * (x - cx) + (y - cy) * (y - cy) <= radius * radius) _pixels[y * _side + x] = c;
        }
    }
}
