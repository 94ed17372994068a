#version 450
// Preview render (PreviewScene in Abstractions/Textures documents the scene and the shading): left panel a sphere
// under an orthographic camera, right panel a tiled ground plane under a pinhole camera, one directional light and
// an ambient term. Shading in linear light: c = albedo (A + E n.l) + E F0 (a + 2)/8 (n.h)^a n.l, a = 2/r^4 - 2.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
layout(local_size_x = 8, local_size_y = 8) in;

layout(std430, binding = 0) readonly buffer Albedo { vec4 albedo[]; };
layout(std430, binding = 1) readonly buffer Normal { vec4 normalMap[]; };
layout(std430, binding = 2) readonly buffer Rough { vec4 roughMap[]; };
layout(std430, binding = 3) readonly buffer Height { vec4 heightMap[]; };
layout(std430, binding = 4) writeonly buffer Out { vec4 outPixels[]; };

layout(push_constant) uniform Params {
    ivec2 panel;                 // one panel's size; the image is 2 panels wide
    ivec2 albedoSize, normalSize, roughSize, heightSize;
    int hasNormal, hasRough, hasHeight;
    float greenSign;             // +1 OpenGL, -1 DirectX (flips the map's y)
    float heightScale;           // parallax offset in texture units per unit of height
    float defaultRoughness;
    vec4 light;                  // xyz: unit direction toward the light, w: its intensity E
    vec4 shade;                  // x: ambient A, y: F0, z: background (linear)
} p;

const float PI = 3.14159265358979;

vec4 tap(int which, ivec2 q) {
    if (which == 0) return albedo[q.y * p.albedoSize.x + q.x];
    if (which == 1) return normalMap[q.y * p.normalSize.x + q.x];
    if (which == 2) return roughMap[q.y * p.roughSize.x + q.x];
    return heightMap[q.y * p.heightSize.x + q.x];
}

// Bilinear sample with wrap addressing on both axes; colour taps are decoded to linear light before filtering.
vec4 sampleMap(int which, ivec2 size, vec2 uv) {
    vec2 xy = uv * vec2(size) - 0.5;
    vec2 f = fract(xy);
    ivec2 i0 = ivec2(floor(xy));
    vec4 s = vec4(0.0);
    for (int dy = 0; dy < 2; dy++)
        for (int dx = 0; dx < 2; dx++) {
            ivec2 q = ivec2(addressTap(i0.x + dx, size.x, true), addressTap(i0.y + dy, size.y, true));
            vec4 t = tap(which, q);
            if (which == 0) t.rgb = vec3(srgbToLinear(t.r), srgbToLinear(t.g), srgbToLinear(t.b));
            s += t * (dx == 0 ? 1.0 - f.x : f.x) * (dy == 0 ? 1.0 - f.y : f.y);
        }
    return s;
}

// Shades the surface point with geometric normal N, tangent T (toward +u) and B = N x T (toward the top of the
// texture, -v), seen from direction V, at texture coordinate uv.
vec3 shadeSurface(vec3 N, vec3 T, vec3 B, vec3 V, vec2 uv) {
    if (p.hasHeight != 0) {
        float h = sampleMap(3, p.heightSize, uv).r;
        uv += p.heightScale * (h - 0.5) * vec2(dot(V, T), -dot(V, B)) / max(dot(V, N), 0.2);
    }
    vec3 n = N;
    if (p.hasNormal != 0) {
        vec3 t = sampleMap(1, p.normalSize, uv).rgb * 2.0 - 1.0;
        t.y *= p.greenSign;
        n = normalize(T * t.x + B * t.y + N * t.z);
    }
    vec3 a = sampleMap(0, p.albedoSize, uv).rgb;
    float r = p.hasRough != 0 ? sampleMap(2, p.roughSize, uv).r : p.defaultRoughness;
    float r4 = max(r * r * r * r, 1e-4);
    float alpha = 2.0 / r4 - 2.0;
    vec3 L = p.light.xyz;
    float ndl = max(dot(n, L), 0.0);
    float ndh = max(dot(n, normalize(L + V)), 0.0);
    float spec = p.shade.y * (alpha + 2.0) / 8.0 * pow(ndh, alpha) * ndl;
    return a * (p.shade.x + p.light.w * ndl) + p.light.w * spec;
}

void main() {
    ivec2 q = ivec2(gl_GlobalInvocationID.xy);
    if (q.x >= 2 * p.panel.x || q.y >= p.panel.y) return;
    bool plane = q.x >= p.panel.x;
    vec2 ndc = vec2((float(q.x - (plane ? p.panel.x : 0)) + 0.5) / float(p.panel.x) * 2.0 - 1.0,
                    1.0 - (float(q.y) + 0.5) / float(p.panel.y) * 2.0);
    vec3 c = vec3(p.shade.z);
    if (!plane) {
        // Sphere of radius 0.9 at the origin, camera looking along -z; u runs twice around, v pole to pole.
        const float R = 0.9;
        float rr = dot(ndc, ndc);
        if (rr < R * R) {
            vec3 N = vec3(ndc, sqrt(R * R - rr)) / R;
            vec3 T = normalize(vec3(N.z, 0.0, -N.x) + vec3(1e-6, 0.0, 0.0));
            vec3 B = cross(N, T);
            vec2 uv = vec2((atan(N.x, N.z) / (2.0 * PI) + 0.5) * 2.0, acos(clamp(N.y, -1.0, 1.0)) / PI);
            c = shadeSurface(N, T, B, vec3(0.0, 0.0, 1.0), uv);
        }
    } else {
        // Ground plane y = 0 tiled once per two units, pinhole camera at (0, 1.6, 2.4) looking at the origin, 50° field of view.
        vec3 eye = vec3(0.0, 1.6, 2.4);
        vec3 fwd = normalize(-eye), right = normalize(cross(fwd, vec3(0.0, 1.0, 0.0))), up = cross(right, fwd);
        float k = tan(radians(25.0));
        vec3 dir = normalize(fwd + ndc.x * k * right + ndc.y * k * up);
        if (dir.y < -1e-4) {
            vec3 hit = eye + dir * (-eye.y / dir.y);
            c = shadeSurface(vec3(0.0, 1.0, 0.0), vec3(1.0, 0.0, 0.0), vec3(0.0, 0.0, -1.0), -dir, hit.xz * 0.5);
        }
    }
    outPixels[q.y * 2 * p.panel.x + q.x] = vec4(linearToSrgb(c.r), linearToSrgb(c.g), linearToSrgb(c.b), 1.0);
}
