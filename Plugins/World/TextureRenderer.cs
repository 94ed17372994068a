namespace EDiffI.Plugins.World;

/// <summary>A point of a texture: the colour mix, the brightness and the surface height there.</summary>
/// <param name="T">Mixes the main colour (0) with the second (1).</param>
/// <param name="Shade">Scales brightness.</param>
/// <param name="Height">Height of the surface in [0, 1], white high: mortar, grout and gaps low, bricks, tiles and rivets raised.</param>
public readonly record struct Surface(double T, double Shade, double Height);

/// <summary>Draws textures: each family is one function from image coordinates to colour and height.</summary>
public static class TextureRenderer
{
    /// <summary>Draws <paramref name="spec"/> into <paramref name="rgb"/> (H×W×3 bytes, row-major).</summary>
    public static void Render(TextureSpec spec, int size, Span<byte> rgb) => Render(spec, size, new PixelWindow(0, 0, size, size), rgb);

    /// <summary>Draws the <paramref name="window"/> of the <paramref name="size"/>-pixel texture into <paramref name="rgb"/> (window-sized, H×W×3).</summary>
    public static void Render(TextureSpec spec, int size, PixelWindow window, Span<byte> rgb) => Render(spec, size, window, rgb, []);

    /// <summary>
    /// Draws the <paramref name="window"/> of the <paramref name="size"/>-pixel texture into <paramref name="rgb"/> (window-sized,
    /// H×W×3) and its ground-truth height field into <paramref name="heights"/> (one value in [0, 1] per pixel, white high,
    /// row-major), both from the same procedural parameters; the height tiles wherever the albedo does. An empty
    /// <paramref name="heights"/> draws the albedo alone, the same pixels either way.
    /// </summary>
    public static void Render(TextureSpec spec, int size, PixelWindow window, Span<byte> rgb, Span<float> heights)
    {
        int pixels = window.Width * window.Height;
        if (rgb.Length < pixels * 3) throw new ArgumentException($"a {window.Width}×{window.Height} window needs {pixels * 3} bytes, not {rgb.Length}", nameof(rgb));
        if (!heights.IsEmpty && heights.Length < pixels) throw new ArgumentException($"a {window.Width}×{window.Height} window needs {pixels} heights, not {heights.Length}", nameof(heights));
        var a = Palette.Colors[spec.Color];
        var b = Palette.Colors[spec.SecondColor];
        for (int y = 0; y < window.Height; y++)
        {
            for (int x = 0; x < window.Width; x++)
            {
                var (t, shade, height) = SampleSurface(spec, (window.X + x + 0.5) / size, (window.Y + y + 0.5) / size);
                int p = y * window.Width + x, i = p * 3;
                rgb[i] = Mix(a.R, b.R, t, shade);
                rgb[i + 1] = Mix(a.G, b.G, t, shade);
                rgb[i + 2] = Mix(a.B, b.B, t, shade);
                if (!heights.IsEmpty) heights[p] = (float)Math.Clamp(height, 0, 1);
            }
        }
    }

    private static byte Mix(byte a, byte b, double t, double shade) =>
        (byte)Math.Clamp((a + (b - a) * t) * shade, 0, 255);

    private static double Frac(double x) => x - Math.Floor(x);

    // 0 at an element's edge rising smoothly to 1 at distance w inside it: the bevel of bricks, tiles and stones.
    private static double Bevel(double d, double w)
    {
        double s = Math.Clamp(d / w, 0, 1);
        return s * s * (3 - 2 * s);
    }

    // A dome of radius 1 at distance d from its centre: 1 at the top, 0 at the rim.
    private static double Dome(double d) => Math.Sqrt(Math.Max(0, 1 - d * d));

    /// <summary>
    /// The texture at (u, v) in [0, 1)²: t mixes the main colour (0) with the second (1), shade scales
    /// brightness. Coordinates are first turned to the texture's orientation.
    /// </summary>
    public static (double T, double Shade) Sample(TextureSpec s, double u0, double v0)
    {
        var surface = SampleSurface(s, u0, v0);
        return (surface.T, surface.Shade);
    }

    /// <summary>
    /// <see cref="Sample"/> with the surface's height: what is drawn in the second colour as mortar, grout, gaps, seams,
    /// joints and borders lies low, bricks, tiles, planks, plates and cobbles are raised with bevelled edges, rivets and
    /// dots are domes, veins are engraved, threads, blades and wave crests are rounded. Painted patterns whose two colours
    /// play the same part (stripes, checkerboard, waves) are inlaid: both colours level, with a groove where they meet.
    /// </summary>
    public static Surface SampleSurface(TextureSpec s, double u0, double v0)
    {
        // Orientation: vertical swaps the axes; diagonal rotates by 45° (then the pattern does not tile).
        (double u, double v) = s.Orientation switch
        {
            TextureOrientation.Vertical => (v0, u0),
            TextureOrientation.Diagonal => ((u0 + v0) * 0.7071, (v0 - u0) * 0.7071),
            _ => (u0, v0),
        };
        int f = s.Frequency;
        double line = s.Thick ? 0.16 : 0.07;
        switch (s.Family)
        {
            case TextureFamily.Bricks:
            {
                double row = Math.Floor(v * f);
                double bx = u * f / 2 + (row % 2 == 0 ? 0 : 0.5);
                double fx = Frac(bx), fy = Frac(v * f);
                bool mortar = fx < line / 2 || fx > 1 - line / 2 || fy < line || fy > 1 - line;
                int perRow = Math.Max(1, f / 2);
                int brickIndex = Noise.Wrap((int)Math.Floor(bx), perRow), rowIndex = Noise.Wrap((int)row, f);
                double brick = 0.85 + 0.15 * Noise.Random(brickIndex, rowIndex, s.Seed);
                double grainNoise = Noise.Value(u0, v0, 16, s.Seed);
                double grain = 0.92 + 0.08 * grainNoise;
                if (mortar) return new(1, grain, 0.12 + 0.08 * grainNoise);
                // Distance into the brick from the mortar, in row heights (a brick is two rows long).
                double inside = Math.Min(2 * Math.Min(fx - line / 2, 1 - line / 2 - fx), Math.Min(fy - line, 1 - line - fy));
                return new(0, brick * grain, 0.35 + 0.55 * Bevel(inside, 0.12) + 0.06 * grainNoise);
            }
            case TextureFamily.Tiles:
            {
                double fx = Frac(u * f), fy = Frac(v * f);
                double edge = Math.Min(Math.Min(fx, 1 - fx), Math.Min(fy, 1 - fy));
                bool gap = edge < line / 2;
                if (gap) return new(1, 1, 0.1);
                double noise = Noise.Value(u0, v0, 16, s.Seed);
                return new(0, 0.95 + 0.05 * noise, 0.3 + 0.6 * Bevel(edge - line / 2, 0.06) + 0.04 * noise);
            }
            case TextureFamily.Planks:
            {
                double plank = ((Math.Floor(u * f) % f) + f) % f;
                double fx = Frac(u * f);
                if (fx < line / 2 || fx > 1 - line / 2) return new(1, 1, 0.05);
                double rings = Math.Sin(2 * Math.PI * (v * 3 + 4 * Noise.Fbm(u, v, 4, 2, s.Seed + (uint)plank)) + plank * 2.1);
                double inside = Math.Min(fx - line / 2, 1 - line / 2 - fx);
                double level = 0.06 * Noise.Random((int)plank, 3, s.Seed); // boards laid a little unevenly
                return new(0, 0.78 + 0.22 * (0.5 + 0.5 * rings), 0.4 + level + 0.4 * Bevel(inside, 0.08) + 0.08 * (0.5 + 0.5 * rings));
            }
            case TextureFamily.Stripes:
            {
                double w = Frac(v * f), width = s.Thick ? 0.6 : 0.35;
                double toBoundary = Math.Min(Math.Min(w, 1 - w), Math.Abs(w - width));
                return new(w < width ? 0 : 1, 1, 0.2 + 0.6 * Bevel(toBoundary, 0.06));
            }
            case TextureFamily.Checkerboard:
            {
                double fx = Frac(u * f), fy = Frac(v * f);
                double edge = Math.Min(Math.Min(fx, 1 - fx), Math.Min(fy, 1 - fy));
                return new((Math.Floor(u * f) + Math.Floor(v * f)) % 2 == 0 ? 0 : 1, 1, 0.2 + 0.6 * Bevel(edge, 0.06));
            }
            case TextureFamily.PolkaDots:
            {
                // Density is the dots' coverage, not their count (the count is the scale's).
                double fx = Frac(u * f) - 0.5, fy = Frac(v * f) - 0.5;
                double radius = s.Dense ? 0.38 : 0.2, d = Math.Sqrt(fx * fx + fy * fy);
                return d < radius ? new(0, 1, 0.3 + 0.6 * Dome(d / radius)) : new(1, 1, 0.3);
            }
            case TextureFamily.Hexagons:
            {
                double d = HexEdgeDistance(u * f * 1.5, v * f * 1.5);
                double border = line * 0.6;
                return d < border ? new(1, 1, 0.1) : new(0, 1, 0.3 + 0.6 * Bevel(d - border, 0.12));
            }
            case TextureFamily.Waves:
            {
                double w = Frac(v * f + 0.12 * Math.Sin(2 * Math.PI * u * 2)), width = s.Thick ? 0.6 : 0.4;
                double toBoundary = Math.Min(Math.Min(w, 1 - w), Math.Abs(w - width));
                return new(w < width ? 0 : 1, 1, 0.2 + 0.6 * Bevel(toBoundary, 0.08));
            }
            case TextureFamily.Marble:
            {
                double n = Noise.Fbm(u, v, 4, 3, s.Seed);
                double vein = Math.Abs(Math.Sin(Math.PI * (u * f + 4 * n)));
                double width = s.Thick ? 0.25 : 0.1;
                double polished = 0.55 + 0.3 * (n - 0.5);
                return vein < width ? new(1, 0.93 + 0.07 * n, polished - 0.35 * (1 - vein / width)) : new(0, 0.93 + 0.07 * n, polished);
            }
            case TextureFamily.Clouds:
            {
                double n = Noise.Fbm(u0, v0, f, 4, s.Seed);
                return new(Math.Clamp((n - 0.3) * 2.5, 0, 1), 1, n);
            }
            case TextureFamily.Cobblestones:
            {
                var (d1, d2, id) = Voronoi(u0, v0, f, s.Seed);
                double joint = (s.Thick ? 0.12 : 0.05) * 2, gap = d2 - d1;
                if (gap < joint) return new(1, 1, 0.1 + 0.1 * gap / joint);
                double stone = Noise.Random(id, 7, s.Seed);
                return new(0, 0.8 + 0.2 * stone, 0.3 + 0.6 * Math.Sqrt(Math.Clamp((gap - joint) / 0.4, 0, 1)) - 0.1 * Noise.Random(id, 11, s.Seed));
            }
            case TextureFamily.Grass:
            {
                int blades = 3 * f;
                double n = Noise.Value(u, v, blades * 2, 2, s.Seed);
                double stroke = Frac(u * blades * 2 + 0.3 * Noise.Value(u, v, 4, s.Seed + 9));
                double ground = 0.2 + 0.5 * n;
                return stroke < 0.25 ? new(1, 0.75 + 0.35 * n, ground + 0.3 * Math.Sin(Math.PI * stroke / 0.25)) : new(0, 0.75 + 0.35 * n, ground);
            }
            case TextureFamily.MetalPlates:
            {
                double fx = Frac(u * f), fy = Frac(v * f);
                double edge = Math.Min(Math.Min(fx, 1 - fx), Math.Min(fy, 1 - fy));
                if (edge < line / 3) return new(1, 0.8, 0.1);
                // Rivets near the four corners of each plate.
                double r = s.Dense ? 0.12 : 0.18;
                double rx = Math.Min(Math.Abs(fx - r), Math.Abs(fx - 1 + r)), ry = Math.Min(Math.Abs(fy - r), Math.Abs(fy - 1 + r));
                double rivet = 0.004 * (s.Thick ? 2 : 1), rr = rx * rx + ry * ry;
                if (rr < rivet) return new(1, 1.1, 0.55 + 0.45 * Dome(Math.Sqrt(rr / rivet)));
                double noise = Noise.Value(u0, v0, 2, 32, s.Seed);
                return new(0, 0.88 + 0.12 * noise, 0.3 + 0.15 * Bevel(edge - line / 3, 0.04) + 0.03 * noise);
            }
            case TextureFamily.Fabric:
            {
                int g = 2 * f;
                int i = (int)Math.Floor(u * g), j = (int)Math.Floor(v * g);
                bool weft = (i + j) % 2 == 0;
                double thread = weft ? Math.Sin(Math.PI * Frac(v * g * 3)) : Math.Sin(Math.PI * Frac(u * g * 3));
                // Each thread rises where it passes over the crossing ones, mid-cell, and dips under at the cell's edges.
                double over = weft ? Math.Sin(Math.PI * Frac(u * g)) : Math.Sin(Math.PI * Frac(v * g));
                return new(weft ? 0 : 1, 0.75 + 0.25 * thread, 0.15 + 0.7 * thread * (0.5 + 0.5 * over));
            }
            default:
                throw new ArgumentOutOfRangeException(nameof(s), s.Family, "unknown texture family");
        }
    }
    // Distance to the nearest edge of a pointy hexagonal grid (hexagons of unit circumradius).
    private static double HexEdgeDistance(double x, double y)
    {
        const double sqrt3 = 1.7320508075688772;
        double bestD = double.MaxValue, secondD = double.MaxValue;
        double row = Math.Round(y / 1.5);
        for (double r = row - 1; r <= row + 1; r++)
        {
            double offset = ((int)r & 1) == 0 ? 0 : sqrt3 / 2;
            double col = Math.Round((x - offset) / sqrt3);
            for (double c = col - 1; c <= col + 1; c++)
            {
                double cx = c * sqrt3 + offset, cy = r * 1.5;
                double d = (x - cx) * (x - cx) + (y - cy) * (y - cy);
                if (d < bestD) { secondD = bestD; bestD = d; }
                else if (d < secondD) secondD = d;
            }
        }
        return (Math.Sqrt(secondD) - Math.Sqrt(bestD)) / 2;
    }

    // Distances to the nearest and second-nearest feature points of a periodic Voronoi diagram, and the nearest cell's id.
    private static (double D1, double D2, int Id) Voronoi(double u, double v, int cells, uint seed)
    {
        double x = u * cells, y = v * cells;
        int cx = (int)Math.Floor(x), cy = (int)Math.Floor(y);
        double d1 = double.MaxValue, d2 = double.MaxValue;
        int id = 0;
        for (int j = -1; j <= 1; j++)
        {
            for (int i = -1; i <= 1; i++)
            {
                int gx = cx + i, gy = cy + j;
                int wx = Noise.Wrap(gx, cells), wy = Noise.Wrap(gy, cells);
                double px = gx + 0.15 + 0.7 * Noise.Random(wx, wy, seed), py = gy + 0.15 + 0.7 * Noise.Random(wy, wx, seed + 1);
                double d = (x - px) * (x - px) + (y - py) * (y - py);
                if (d < d1) { d2 = d1; d1 = d; id = wy * cells + wx; }
                else if (d < d2) d2 = d;
            }
        }
        return (Math.Sqrt(d1), Math.Sqrt(d2), id);
    }
}
