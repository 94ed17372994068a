namespace EDiffI.Plugins.World;

/// <summary>
/// Periodic value noise and its fractal sum on the unit square: every octave's lattice has an
/// integer number of cells per side, so the noise tiles seamlessly.
/// </summary>
internal static class Noise
{
    private static uint Hash(int x, int y, uint seed)
    {
        uint h = seed ^ (uint)x * 0x27d4eb2dU ^ (uint)y * 0x165667b1U;
        h ^= h >> 15; h *= 0x85ebca6bU; h ^= h >> 13; h *= 0xc2b2ae35U; h ^= h >> 16;
        return h;
    }

    /// <summary>A value in [0, 1) from integer coordinates and a seed.</summary>
    public static double Random(int x, int y, uint seed) => Hash(x, y, seed) / 4294967296.0;

    private static double Smooth(double t) => t * t * (3 - 2 * t);

    /// <summary>i modulo n in [0, n), without a division in the common case where i is already there.</summary>
    public static int Wrap(int i, int n)
    {
        if ((uint)i < (uint)n) return i;
        i %= n;
        return i < 0 ? i + n : i;
    }

    /// <summary>Value noise with <paramref name="cells"/> lattice cells across the unit square, wrapping at 1.</summary>
    public static double Value(double u, double v, int cells, uint seed) => Value(u, v, cells, cells, seed);

    /// <summary>Value noise with a different number of cells across and down, wrapping at 1 both ways.</summary>
    public static double Value(double u, double v, int cellsX, int cellsY, uint seed)
    {
        double x = u * cellsX, y = v * cellsY;
        int x0 = (int)Math.Floor(x), y0 = (int)Math.Floor(y);
        double fx = Smooth(x - x0), fy = Smooth(y - y0);
        x0 = Wrap(x0, cellsX);
        y0 = Wrap(y0, cellsY);
        int x1 = x0 + 1 == cellsX ? 0 : x0 + 1, y1 = y0 + 1 == cellsY ? 0 : y0 + 1;
        double a = Random(x0, y0, seed), b = Random(x1, y0, seed);
        double c = Random(x0, y1, seed), d = Random(x1, y1, seed);
        return a + (b - a) * fx + (c - a) * fy + (a - b - c + d) * fx * fy;
    }

    /// <summary>Fractal sum of <paramref name="octaves"/> octaves starting at <paramref name="cells"/> cells, in [0, 1].</summary>
    public static double Fbm(double u, double v, int cells, int octaves, uint seed)
    {
        double sum = 0, amplitude = 0.5, norm = 0;
        for (int o = 0; o < octaves; o++)
        {
            sum += amplitude * Value(u, v, cells << o, seed + (uint)o * 1013);
            norm += amplitude;
            amplitude *= 0.5;
        }
        return sum / norm;
    }
}
