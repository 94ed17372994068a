#version 450
// BC7 encoder restricted to mode 6, one invocation per 4x4 block: one subset, RGBA endpoints of 7 bits plus one
// p-bit each, 4-bit indices (Microsoft's BC7 format description). Endpoints come from the principal axis of the
// block's RGBA values, refined twice by least squares; all four p-bit pairs are tried and the best kept (an opaque block
// takes p-bits 1, 1 so that its alpha stays 255).
// Mode 6 alone is the documented subset: best on smooth and two-colour blocks, weaker where a block holds three
// or more unrelated colours (the partitioned modes 0-3 and 7 would help there).
#extension GL_GOOGLE_include_directive : require
layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer Pixels { uint pixels[]; };
layout(std430, binding = 1) writeonly buffer Blocks { uvec4 blocks[]; };
layout(push_constant) uniform Params { int width, height, blocksX, blocksY; } p;
#include "bits.glsl"

const uint w4[16] = uint[16](0u, 4u, 9u, 13u, 17u, 21u, 26u, 30u, 34u, 38u, 43u, 47u, 51u, 55u, 60u, 64u);

uvec4 quantize(vec4 e, uint pbit) { return uvec4(clamp(round((e - float(pbit)) / 2.0), vec4(0.0), vec4(127.0))); }
vec4 expand(uvec4 q, uint pbit) { return vec4((q << 1u) | uvec4(pbit)); }
vec4 interpolate(vec4 a, vec4 b, uint k) { return vec4((uvec4(a) * (64u - w4[k]) + uvec4(b) * w4[k] + 32u) >> 6u); }

// Indices (4 bits each, pixel i at bits 4i of two words) and squared error of endpoints a, b.
float chooseIndices(vec4 c[16], vec4 a, vec4 b, out uvec2 idx) {
    vec4 pal[16];
    for (uint k = 0u; k < 16u; k++) pal[k] = interpolate(a, b, k);
    float err = 0.0; idx = uvec2(0u);
    for (int i = 0; i < 16; i++) {
        uint best = 0u; float bestD = 1e30;
        for (uint k = 0u; k < 16u; k++) { vec4 d = c[i] - pal[k]; float e = dot(d, d); if (e < bestD) { bestD = e; best = k; } }
        idx[i >> 3] |= best << (4 * (i & 7));
        err += bestD;
    }
    return err;
}

uint indexAt(uvec2 idx, int i) { return (idx[i >> 3] >> (4 * (i & 7))) & 15u; }

void main() {
    uint id = gl_GlobalInvocationID.x;
    if (id >= uint(p.blocksX * p.blocksY)) return;
    uvec2 block = uvec2(id % uint(p.blocksX), id / uint(p.blocksX));
    vec4 c[16]; vec4 mean = vec4(0.0);
    for (uint i = 0u; i < 16u; i++) { c[i] = blockPixel(block, i, p.width, p.height); mean += c[i]; }
    mean /= 16.0;
    vec4 axis = principalAxis(c, mean, 4);
    float tmin = 0.0, tmax = 0.0;
    for (int i = 0; i < 16; i++) { float t = dot(c[i] - mean, axis); tmin = min(tmin, t); tmax = max(tmax, t); }
    vec4 e0 = clamp(mean + axis * tmin, 0.0, 255.0), e1 = clamp(mean + axis * tmax, 0.0, 255.0);
    for (int iter = 0; iter < 2; iter++) {
        uvec2 idx;
        chooseIndices(c, expand(quantize(e0, 0u), 0u), expand(quantize(e1, 1u), 1u), idx);
        // Least squares: minimise sum |(1 - w_i) e0 + w_i e1 - c_i|^2.
        float aa = 0.0, ab = 0.0, bb = 0.0; vec4 ax = vec4(0.0), bx = vec4(0.0);
        for (int i = 0; i < 16; i++) {
            float w = float(w4[indexAt(idx, i)]) / 64.0, a = 1.0 - w;
            aa += a * a; ab += a * w; bb += w * w; ax += a * c[i]; bx += w * c[i];
        }
        float det = aa * bb - ab * ab;
        // All pixels on one index make the system singular (det is then 0 up to rounding): keep the endpoints.
        if (det <= 1e-3 * aa * bb) break;
        e0 = clamp((ax * bb - bx * ab) / det, 0.0, 255.0);
        e1 = clamp((bx * aa - ax * ab) / det, 0.0, 255.0);
    }
    // An opaque block keeps alpha exactly 255, which needs both p-bits set (255 = 127·2 + 1).
    bool opaque = true;
    for (int i = 0; i < 16; i++) opaque = opaque && c[i].a >= 255.0;
    float bestErr = 1e30; uvec4 q0 = uvec4(0u), q1 = uvec4(0u); uint p0 = 0u, p1 = 0u; uvec2 bestIdx = uvec2(0u);
    for (uint pb = opaque ? 3u : 0u; pb < 4u; pb++) {
        uint pa = pb & 1u, pc = pb >> 1u;
        uvec4 a = quantize(e0, pa), b = quantize(e1, pc);
        uvec2 idx;
        float err = chooseIndices(c, expand(a, pa), expand(b, pc), idx);
        if (err < bestErr) { bestErr = err; q0 = a; q1 = b; p0 = pa; p1 = pc; bestIdx = idx; }
    }
    // The anchor (pixel 0) stores 3 bits: its index's top bit must be 0, so swap the endpoints if it is not.
    if (indexAt(bestIdx, 0) >= 8u) {
        uvec4 t = q0; q0 = q1; q1 = t;
        uint tp = p0; p0 = p1; p1 = tp;
        bestIdx = uvec2(~bestIdx.x, ~bestIdx.y);  // 15 - k for every 4-bit index
    }
    uvec4 b = uvec4(0u); uint pos = 0u;
    putBits(b, pos, 1u << 6, 7u);  // mode 6: six 0 bits, then a 1
    for (int ch = 0; ch < 4; ch++) { putBits(b, pos, q0[ch], 7u); putBits(b, pos, q1[ch], 7u); }
    putBits(b, pos, p0, 1u);
    putBits(b, pos, p1, 1u);
    putBits(b, pos, indexAt(bestIdx, 0), 3u);
    for (int i = 1; i < 16; i++) putBits(b, pos, indexAt(bestIdx, i), 4u);
    blocks[id] = b;
}
