#version 450
// BC1 (colour, no alpha) encoder, one invocation per 4x4 block: endpoints from the principal axis of the block's
// colours, refined twice by least squares on the chosen indices, then quantised to RGB 5:6:5 in four-colour mode
// (color0 > color1: palette c0, c1, (2c0 + c1)/3, (c0 + 2c1)/3; Microsoft's BC1 format description).
#extension GL_GOOGLE_include_directive : require
layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer Pixels { uint pixels[]; };
layout(std430, binding = 1) writeonly buffer Blocks { uvec2 blocks[]; };
layout(push_constant) uniform Params { int width, height, blocksX, blocksY; } p;
#include "bits.glsl"

uint pack565(vec3 c) {
    uvec3 q = uvec3(clamp(round(c * vec3(31.0, 63.0, 31.0) / 255.0), vec3(0.0), vec3(31.0, 63.0, 31.0)));
    return (q.r << 11) | (q.g << 5) | q.b;
}
vec3 unpack565(uint v) {
    uint r = (v >> 11) & 31u, g = (v >> 5) & 63u, b = v & 31u;
    return vec3(float((r << 3) | (r >> 2)), float((g << 2) | (g >> 4)), float((b << 3) | (b >> 2)));
}

// Weight of color0 at each index of the four-colour palette.
const float t4[4] = float[4](1.0, 0.0, 2.0 / 3.0, 1.0 / 3.0);

uint chooseIndices(vec4 c[16], vec3 c0, vec3 c1, out float err) {
    vec3 pal[4] = vec3[4](c0, c1, (2.0 * c0 + c1) / 3.0, (c0 + 2.0 * c1) / 3.0);
    uint bits = 0u;
    err = 0.0;
    for (int i = 0; i < 16; i++) {
        int best = 0; float bestD = 1e30;
        for (int k = 0; k < 4; k++) { vec3 d = c[i].rgb - pal[k]; float e = dot(d, d); if (e < bestD) { bestD = e; best = k; } }
        bits |= uint(best) << (2 * i);
        err += bestD;
    }
    return bits;
}

void main() {
    uint id = gl_GlobalInvocationID.x;
    if (id >= uint(p.blocksX * p.blocksY)) return;
    uvec2 block = uvec2(id % uint(p.blocksX), id / uint(p.blocksX));
    vec4 c[16]; vec4 mean = vec4(0.0);
    for (uint i = 0u; i < 16u; i++) { c[i] = blockPixel(block, i, p.width, p.height); mean += c[i]; }
    mean /= 16.0;
    vec3 axis = principalAxis(c, mean, 3).rgb;
    float tmin = 0.0, tmax = 0.0;
    for (int i = 0; i < 16; i++) { float t = dot(c[i].rgb - mean.rgb, axis); tmin = min(tmin, t); tmax = max(tmax, t); }
    vec3 e0 = clamp(mean.rgb + axis * tmax, 0.0, 255.0), e1 = clamp(mean.rgb + axis * tmin, 0.0, 255.0);
    // Least squares on the indices: minimise sum |t_i e0 + (1 - t_i) e1 - c_i|^2 over e0, e1.
    for (int iter = 0; iter < 2; iter++) {
        float err; uint bits = chooseIndices(c, unpack565(pack565(e0)), unpack565(pack565(e1)), err);
        float aa = 0.0, ab = 0.0, bb = 0.0; vec3 ax = vec3(0.0), bx = vec3(0.0);
        for (int i = 0; i < 16; i++) {
            float a = t4[(bits >> (2 * i)) & 3u], b = 1.0 - a;
            aa += a * a; ab += a * b; bb += b * b; ax += a * c[i].rgb; bx += b * c[i].rgb;
        }
        float det = aa * bb - ab * ab;
        // All pixels on one index make the system singular (det is then 0 up to rounding): keep the endpoints.
        if (det <= 1e-3 * aa * bb) break;
        e0 = clamp((ax * bb - bx * ab) / det, 0.0, 255.0);
        e1 = clamp((bx * aa - ax * ab) / det, 0.0, 255.0);
    }
    uint q0 = pack565(e0), q1 = pack565(e1);
    if (q0 < q1) { uint s = q0; q0 = q1; q1 = s; }
    float err;
    uint bits = q0 == q1 ? 0u : chooseIndices(c, unpack565(q0), unpack565(q1), err);
    blocks[id] = uvec2(q0 | (q1 << 16), bits);
}
