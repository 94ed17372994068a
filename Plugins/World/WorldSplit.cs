namespace EDiffI.Plugins.World;

/// <summary>Which part of the world to draw from.</summary>
public enum WorldSplit
{
    /// <summary>The training stream: never produces a held-out combination.</summary>
    Train,
    /// <summary>Only held-out combinations: compositional generalisation.</summary>
    HeldOut,
}

/// <summary>
/// Which attribute combinations are held out of training (documented in docs/world.md): a
/// background texture family in a main colour, and an object shape in a colour, each by a fixed rule.
/// </summary>
public static class HeldOut
{
    /// <summary>True for (family, colour) pairs the training stream never draws: 16 of the 168.</summary>
    public static bool Texture(TextureFamily family, int color) => ((int)family * 7 + color * 3 + 4) % 10 == 0;

    /// <summary>True for (shape, colour) pairs the training stream never draws: 8 of the 72.</summary>
    public static bool Object(Shape shape, int color) => ((int)shape * 5 + color) % 9 == 0;

    /// <summary>True when any part of the scene is a held-out combination.</summary>
    public static bool Scene(Scene s) =>
        Texture(s.Background.Family, s.Background.Color) || s.Objects.Any(o => Object(o.Shape, o.Color));
}
