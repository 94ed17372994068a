#nullable enable
using System;

namespace EDiffI.Bridge.Unity.Editor
{
    /// <summary>
    /// The packed maps Unity's lit shaders read instead of a roughness map (RGBA8, any row order, the same for every input).
    /// Plain C#, so the tests run it.
    /// </summary>
    public static class MapPacking
    {
        /// <summary>
        /// Built-in Standard and URP Lit's metallic map: R metallic (0: our textures are dielectric), G and B 0,
        /// A smoothness = 255 − roughness.
        /// </summary>
        public static byte[] MetallicSmoothness(byte[] roughness)
        {
            Check(roughness, nameof(roughness));
            var packed = new byte[roughness.Length];
            for (int i = 0; i < packed.Length; i += 4) packed[i + 3] = (byte)(255 - roughness[i]);
            return packed;
        }

        /// <summary>
        /// HDRP Lit's mask map: R metallic 0, G ambient occlusion, B detail mask 255 (details, if any, everywhere),
        /// A smoothness = 255 − roughness.
        /// </summary>
        public static byte[] HdrpMask(byte[] roughness, byte[] occlusion)
        {
            Check(roughness, nameof(roughness));
            Check(occlusion, nameof(occlusion));
            if (occlusion.Length != roughness.Length) throw new ArgumentException($"the occlusion ({occlusion.Length} bytes) and roughness ({roughness.Length} bytes) maps differ in size", nameof(occlusion));
            var packed = new byte[roughness.Length];
            for (int i = 0; i < packed.Length; i += 4)
            {
                packed[i + 1] = occlusion[i];
                packed[i + 2] = 255;
                packed[i + 3] = (byte)(255 - roughness[i]);
            }
            return packed;
        }

        /// <summary>
        /// <paramref name="rgba"/> (<paramref name="width"/>×<paramref name="height"/>) resampled to <paramref name="toWidth"/>×<paramref name="toHeight"/>
        /// by nearest pixel: how a mask painted on the small canvas is brought to the size of its init image (a mask stays black
        /// and white).
        /// </summary>
        public static byte[] Nearest(byte[] rgba, int width, int height, int toWidth, int toHeight)
        {
            Check(rgba, nameof(rgba));
            if (width <= 0 || height <= 0 || rgba.Length != width * height * 4) throw new ArgumentException($"{width}×{height} RGBA8 needs {width * height * 4} bytes, got {rgba.Length}", nameof(rgba));
            if (toWidth <= 0 || toHeight <= 0) throw new ArgumentOutOfRangeException(nameof(toWidth), "the new size has at least one pixel a side");
            var result = new byte[toWidth * toHeight * 4];
            for (int y = 0; y < toHeight; y++)
            {
                int sy = (int)((y + 0.5) * height / toHeight);
                for (int x = 0; x < toWidth; x++)
                {
                    int sx = (int)((x + 0.5) * width / toWidth);
                    Buffer.BlockCopy(rgba, (sy * width + sx) * 4, result, (y * toWidth + x) * 4, 4);
                }
            }
            return result;
        }

        private static void Check(byte[] rgba, string name)
        {
            if (rgba == null) throw new ArgumentNullException(name);
            if (rgba.Length % 4 != 0) throw new ArgumentException($"RGBA8 needs 4 bytes a pixel; {rgba.Length} bytes is not", name);
        }
    }
}
