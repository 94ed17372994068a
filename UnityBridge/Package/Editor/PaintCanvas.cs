#nullable enable
using System;
using System.Collections.Generic;
using EDiffI.Bridge.Protocol;
using UnityEditor;
using UnityEngine;

namespace EDiffI.Bridge.Unity.Editor
{
    /// <summary>
    /// The paint-with-words canvas: a small square scribble painted with the mouse in the colours of
    /// a legend, each colour naming a phrase of the prompt.
    /// </summary>
    public sealed class PaintCanvas : IDisposable
    {
        private readonly int _side;
        private readonly Color32[] _pixels;
        private readonly List<Color> _colours = new List<Color> { new Color(1, 0, 0, 1), new Color(0, 0, 1, 1) };
        private readonly List<string> _phrases = new List<string> { "", "" };
        private Texture2D? _texture;
        private int _brush;

        /// <summary>A blank (black) canvas of <paramref name="side"/>² pixels.</summary>
        public PaintCanvas(int side)
        {
            _side = side;
            _pixels = new Color32[side * side];
            Clear();
        }

        /// <summary>Draws the legend and the canvas, and paints where the mouse drags.</summary>
        public void Draw()
        {
            for (int i = 0; i < _colours.Count; i++)
            {
                GUILayout.BeginHorizontal();
                if (GUILayout.Button(i == _brush ? "●" : "○", GUILayout.Width(24))) _brush = i;
                _colours[i] = EditorGUILayout.ColorField(_colours[i], GUILayout.Width(60));
                _phrases[i] = EditorGUILayout.TextField("phrase", _phrases[i]);
                GUILayout.EndHorizontal();
            }
            GUILayout.BeginHorizontal();
            if (GUILayout.Button("Add colour")) { _colours.Add(new Color(0, 1, 0, 1)); _phrases.Add(""); }
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
            if (_texture == null) _texture = new Texture2D(_side, _side, TextureFormat.RGBA32, false);
            _texture.SetPixels32(_pixels);
            _texture.Apply();
            GUI.DrawTexture(area, _texture);
        }

        /// <summary>The scribble as a bridge image.</summary>
        public ImageData Scribble() => TexturePixels.FromPixels(_pixels, _side, _side);

        /// <summary>The legend: one entry per colour that has a phrase.</summary>
        /// <exception cref="InvalidOperationException">No colour has a phrase.</exception>
        public List<LegendEntry> Legend()
        {
            var legend = new List<LegendEntry>();
            for (int i = 0; i < _colours.Count; i++)
            {
                if (_phrases[i].Trim().Length == 0) continue;
                Color32 c = _colours[i];
                legend.Add(new LegendEntry { Rgb = (c.r << 16) | (c.g << 8) | c.b, Phrase = _phrases[i].Trim() });
            }
            if (legend.Count == 0) throw new InvalidOperationException("Paint with words is on but no colour names a phrase of the prompt.");
            return legend;
        }

        /// <inheritdoc />
        public void Dispose()
        {
            if (_texture != null) UnityEngine.Object.DestroyImmediate(_texture);
            _texture = null;
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
