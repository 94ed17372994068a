namespace EDiffI.Textures;

/// <summary>
/// The preview render's scene and shading, documented once (Plugins/VulkanTextures/Shaders/preview.comp renders it).
/// </summary>
/// <remarks>
/// <para>The image is two square panels side by side, <c>2S × S</c>. Left: a sphere of radius 0.9 centred in the panel
/// (panel coordinates x, y in [−1, 1], y up), seen by an orthographic camera looking along −z, so the view vector is
/// v = (0, 0, 1) and the normal at a covered pixel is (x, y, √(0.81 − x² − y²)) / 0.9. Its texture coordinates are
/// u = 2·(atan2(nx, nz)/2π + ½) (twice around) and v = acos(ny)/π (pole to pole). Right: the ground plane y = 0,
/// tiled once per two units (uv = (x, z)/2), seen by a pinhole camera at (0, 1.6, 2.4) looking at the origin with a 50°
/// vertical field of view. Pixels that miss are <see cref="Background"/>.</para>
/// <para>Tangent frame: T toward +u, B = N × T toward the top of the texture (−v), so an OpenGL normal map's +Y is B.
/// With a height map, parallax offsets the texture coordinate by <c>heightScale·(h − ½)·(v·T, −v·B)/max(v·N, 0.2)</c>.</para>
/// <para>Shading in linear light, with l = <see cref="LightDirection"/>, h = normalize(l + v), roughness r (the map's red
/// channel, else <see cref="DefaultRoughness"/>) and Blinn–Phong exponent a = 2/r⁴ − 2:
/// <c>c = albedo·(A + E·max(n·l, 0)) + E·F0·(a + 2)/8·max(n·h, 0)^a·max(n·l, 0)</c>, A = <see cref="Ambient"/>,
/// E = <see cref="LightIntensity"/>, F0 = <see cref="F0"/>; then sRGB-encoded. Albedo taps are decoded from sRGB before
/// bilinear filtering; every map is sampled with wrap addressing.</para>
/// </remarks>
public static class PreviewScene
{
    /// <summary>Unit vector toward the light: normalize(−0.4, 0.6, 0.7), from the upper left, in front.</summary>
    public static (float X, float Y, float Z) LightDirection { get; } = Normalize(-0.4f, 0.6f, 0.7f);

    /// <summary>E, the light's intensity.</summary>
    public const float LightIntensity = 0.8f;

    /// <summary>A, the ambient term.</summary>
    public const float Ambient = 0.15f;

    /// <summary>F0, the specular reflectance at normal incidence (a dielectric).</summary>
    public const float F0 = 0.04f;

    /// <summary>Roughness where the material has no roughness map.</summary>
    public const float DefaultRoughness = 0.6f;

    /// <summary>Linear grey of the pixels that miss the sphere and the plane.</summary>
    public const float Background = 0.02f;

    /// <summary>Parallax scale where the material has a height map (texture units per unit of height).</summary>
    public const float DefaultHeightScale = 0.03f;

    private static (float, float, float) Normalize(float x, float y, float z)
    {
        float len = MathF.Sqrt(x * x + y * y + z * z);
        return (x / len, y / len, z / len);
    }
}

/// <summary>The maps of a material to preview; every map but the albedo is optional, and each may have its own size.</summary>
/// <param name="Albedo">sRGB colour.</param>
/// <param name="Normal">Tangent-space normal map (rgb = n·0.5 + 0.5) in <paramref name="Convention"/>.</param>
/// <param name="Roughness">Roughness in the red channel.</param>
/// <param name="Height">Height in the red channel, white high.</param>
/// <param name="Convention">The normal map's green convention.</param>
/// <param name="HeightScale">Parallax scale (<see cref="PreviewScene.DefaultHeightScale"/>).</param>
public sealed record PreviewMaterial(TextureImage Albedo, TextureImage? Normal = null, TextureImage? Roughness = null, TextureImage? Height = null,
    NormalConvention Convention = NormalConvention.OpenGL, float HeightScale = PreviewScene.DefaultHeightScale);
