// Writes the low `count` bits of `value` into the 128-bit block `b` at bit `pos` (LSB first, as the BC formats number bits).
void putBits(inout uvec4 b, inout uint pos, uint value, uint count) {
    for (uint i = 0u; i < count; i++) {
        uint at = pos + i;
        b[at >> 5] |= ((value >> i) & 1u) << (at & 31u);
    }
    pos += count;
}

// Pixel i (0..15, row-major) of the 4x4 block at `block`, edge pixels repeated where the image ends inside it.
vec4 blockPixel(uvec2 block, uint i, int width, int height) {
    int x = min(int(block.x) * 4 + int(i & 3u), width - 1);
    int y = min(int(block.y) * 4 + int(i >> 2), height - 1);
    return unpackUnorm4x8(pixels[y * width + x]) * 255.0;
}

// The principal axis of the block's values (power iteration on their covariance); `dims` 3 or 4 channels.
vec4 principalAxis(vec4 c[16], vec4 mean, int dims) {
    mat4 cov = mat4(0.0);
    vec4 lo = c[0], hi = c[0];
    for (int i = 0; i < 16; i++) {
        vec4 d = c[i] - mean;
        if (dims == 3) d.w = 0.0;
        cov += outerProduct(d, d);
        lo = min(lo, c[i]);
        hi = max(hi, c[i]);
    }
    vec4 v = hi - lo;
    if (dims == 3) v.w = 0.0;
    if (dot(v, v) < 1e-6) return vec4(0.0);
    for (int k = 0; k < 8; k++) {
        vec4 nv = cov * v;
        float len = length(nv);
        if (len < 1e-12) break;
        v = nv / len;
    }
    return normalize(v);
}
