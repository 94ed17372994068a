#version 450
// BC5 (two channels: a normal map's x in red, y in green) encoder, one invocation per 4x4 block: each channel is a
// BC4 block in its eight-value mode (red0 = block max > red1 = block min, six values between), indices to nearest.
#extension GL_GOOGLE_include_directive : require
layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer Pixels { uint pixels[]; };
layout(std430, binding = 1) writeonly buffer Blocks { uvec4 blocks[]; };
layout(push_constant) uniform Params { int width, height, blocksX, blocksY; } p;
#include "bits.glsl"

// One BC4 block of channel `ch` into bits [offset, offset + 64) of `b`.
void bc4(vec4 c[16], int ch, inout uvec4 b, uint offset) {
    float lo = 255.0, hi = 0.0;
    for (int i = 0; i < 16; i++) { lo = min(lo, c[i][ch]); hi = max(hi, c[i][ch]); }
    uint r0 = uint(round(hi)), r1 = uint(round(lo));
    uint pos = offset;
    putBits(b, pos, r0, 8u);
    putBits(b, pos, r1, 8u);
    float pal[8];
    pal[0] = float(r0); pal[1] = float(r1);
    for (int k = 2; k < 8; k++) pal[k] = (float(8 - k) * float(r0) + float(k - 1) * float(r1)) / 7.0;
    for (int i = 0; i < 16; i++) {
        uint best = 0u; float bestD = 1e30;
        if (r0 > r1) for (uint k = 0u; k < 8u; k++) { float d = abs(c[i][ch] - pal[k]); if (d < bestD) { bestD = d; best = k; } }
        putBits(b, pos, best, 3u);
    }
}

void main() {
    uint id = gl_GlobalInvocationID.x;
    if (id >= uint(p.blocksX * p.blocksY)) return;
    uvec2 block = uvec2(id % uint(p.blocksX), id / uint(p.blocksX));
    vec4 c[16];
    for (uint i = 0u; i < 16u; i++) c[i] = blockPixel(block, i, p.width, p.height);
    uvec4 b = uvec4(0u);
    bc4(c, 0, b, 0u);
    bc4(c, 1, b, 64u);
    blocks[id] = b;
}
