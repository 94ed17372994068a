namespace EDiffI.Plugins.World;

/// <summary>Shapes of scene objects.</summary>
public enum Shape { Circle, Square, Triangle, Star, Ring, Cross }

/// <summary>One object of a scene.</summary>
/// <param name="Shape">Its shape.</param>
/// <param name="Color">Its colour (palette index).</param>
/// <param name="Texture">A texture family filling it, or null for a solid colour.</param>
/// <param name="Cell">Position in the 3×3 grid, row-major: 0 is top left, 4 the centre.</param>
/// <param name="Size">Radius as a fraction of the image side.</param>
/// <param name="DX">Horizontal jitter of the centre, fraction of the image side.</param>
/// <param name="DY">Vertical jitter of the centre.</param>
public sealed record SceneObject(Shape Shape, int Color, TextureFamily? Texture, int Cell, double Size, double DX, double DY)
{
    /// <summary>Column of the cell (0 left, 2 right).</summary>
    public int Column => Cell % 3;
    /// <summary>Row of the cell (0 top, 2 bottom).</summary>
    public int Row => Cell / 3;

    /// <summary>True when the object covers the point (u, v) of the unit square.</summary>
    public bool Covers(double u, double v)
    {
        double cx = (Column + 0.5) / 3 + DX, cy = (Row + 0.5) / 3 + DY;
        double x = (u - cx) / Size, y = (v - cy) / Size;
        double d = Math.Sqrt(x * x + y * y);
        switch (Shape)
        {
            case Shape.Circle: return d < 1;
            case Shape.Square: return Math.Max(Math.Abs(x), Math.Abs(y)) < 0.82;
            case Shape.Triangle: return y < 0.75 && y > -0.95 && Math.Abs(x) < (y + 0.95) * 0.62;
            case Shape.Ring: return d < 1 && d > 0.55;
            case Shape.Cross: return (Math.Abs(x) < 0.3 && Math.Abs(y) < 0.95) || (Math.Abs(y) < 0.3 && Math.Abs(x) < 0.95);
            case Shape.Star:
            {
                double angle = Math.Atan2(y, x) + Math.PI / 2;
                double k = Math.Abs(((angle / (2 * Math.PI / 5)) % 1 + 1) % 1 - 0.5) * 2; // 0 at a point, 1 between points
                return d < 1 - 0.55 * k;
            }
            default: return false;
        }
    }
}

/// <summary>A scene: a textured background and up to three objects.</summary>
public sealed record Scene(TextureSpec Background, IReadOnlyList<SceneObject> Objects, bool CountCaption);
