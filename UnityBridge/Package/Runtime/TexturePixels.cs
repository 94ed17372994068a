#nullable enable
using System;
using EDiffI.Bridge.Protocol;
using UnityEngine;

namespace EDiffI.Bridge.Unity
{
    /// <summary>
    /// Moves pixels between the bridge (RGBA8, top row first) and Unity textures (RGBA32, bottom row
    /// first).
    /// </summary>
    public static class TexturePixels
    {
        /// <summary>A copy of <paramref name="rgba"/> with its rows in the opposite order.</summary>
        public static byte[] FlipRows(byte[] rgba, int width, int height)
        {
            if (rgba == null) throw new ArgumentNullException(nameof(rgba));
            int row = width * 4;
            if (rgba.Length != row * height) throw new ArgumentException($"{width}×{height} RGBA8 needs {row * height} bytes, got {rgba.Length}.", nameof(rgba));
            var flipped = new byte[rgba.Length];
            for (int y = 0; y < height; y++) Buffer.BlockCopy(rgba, y * row, flipped, (height - 1 - y) * row, row);
            return flipped;
        }

        /// <summary>A new texture holding a bridge image (the caller destroys it).</summary>
        public static Texture2D ToTexture(byte[] rgba, int width, int height, bool mipmaps)
        {
            var texture = new Texture2D(width, height, TextureFormat.RGBA32, mipmaps);
            texture.LoadRawTextureData(FlipRows(rgba, width, height));
            texture.Apply();
            return texture;
        }

        /// <summary>The pixels of a readable texture as a bridge image.</summary>
        /// <exception cref="InvalidOperationException">The texture is not readable (enable Read/Write in its import settings).</exception>
        public static ImageData FromTexture(Texture2D texture)
        {
            if (texture == null) throw new ArgumentNullException(nameof(texture));
            if (!texture.isReadable)
                throw new InvalidOperationException($"The texture '{texture.name}' is not readable: tick Read/Write in its import settings, then try again.");
            return FromPixels(texture.GetPixels32(), texture.width, texture.height);
        }

        /// <summary>Unity pixels (bottom row first) as a bridge image (top row first).</summary>
        public static ImageData FromPixels(Color32[] pixels, int width, int height)
        {
            if (pixels == null) throw new ArgumentNullException(nameof(pixels));
            var rgba = new byte[width * height * 4];
            for (int y = 0; y < height; y++)
            {
                for (int x = 0; x < width; x++)
                {
                    var p = pixels[(height - 1 - y) * width + x];
                    int i = (y * width + x) * 4;
                    rgba[i] = p.r;
                    rgba[i + 1] = p.g;
                    rgba[i + 2] = p.b;
                    rgba[i + 3] = p.a;
                }
            }
            return new ImageData { Width = width, Height = height, Rgba = rgba };
        }
    }
}
