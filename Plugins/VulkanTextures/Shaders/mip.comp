#version 450
// One step of a mip chain (TextureMath.MipChain): mode 0 decodes level 0 into the filtering space; mode 1 filters a
// level from its parent with the separable [1, 3, 3, 1]/8 filter over taps 2i-1 .. 2i+2 (wrap or clamp per axis),
// renormalises normals, and writes both the filtering-space state and the stored values of the new level.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
layout(local_size_x = 8, local_size_y = 8) in;

layout(std430, binding = 0) readonly buffer Src { vec4 src[]; };    // mode 0: stored values; mode 1: parent state
layout(std430, binding = 1) writeonly buffer DstState { vec4 dstState[]; };
layout(std430, binding = 2) writeonly buffer DstStored { vec4 dstStored[]; };

layout(push_constant) uniform Params {
    int srcW, srcH, dstW, dstH;
    int kind;   // 0 colour (sRGB), 1 normal, 2 linear data
    int wrapX, wrapY;
    int mode;   // 0 decode, 1 downsample
} p;

const float weights[4] = float[4](0.125, 0.375, 0.375, 0.125);

vec4 encodeState(vec4 s) {
    if (p.kind == 0) return vec4(linearToSrgb(s.r), linearToSrgb(s.g), linearToSrgb(s.b), clamp(s.a, 0.0, 1.0));
    if (p.kind == 1) return vec4(clamp(s.rgb * 0.5 + 0.5, 0.0, 1.0), clamp(s.a, 0.0, 1.0));
    return clamp(s, 0.0, 1.0);
}

void main() {
    ivec2 d = ivec2(gl_GlobalInvocationID.xy);
    if (d.x >= p.dstW || d.y >= p.dstH) return;
    int o = d.y * p.dstW + d.x;
    if (p.mode == 0) {
        vec4 c = src[o];
        if (p.kind == 0) c = vec4(srgbToLinear(c.r), srgbToLinear(c.g), srgbToLinear(c.b), c.a);
        else if (p.kind == 1) c = vec4(c.rgb * 2.0 - 1.0, c.a);
        dstState[o] = c;
        return;
    }
    vec4 sum = vec4(0.0);
    for (int ty = 0; ty < 4; ty++) {
        int sy = addressTap(2 * d.y - 1 + ty, p.srcH, p.wrapY != 0);
        for (int tx = 0; tx < 4; tx++) {
            int sx = addressTap(2 * d.x - 1 + tx, p.srcW, p.wrapX != 0);
            sum += weights[ty] * weights[tx] * src[sy * p.srcW + sx];
        }
    }
    if (p.kind == 1) {
        float len = length(sum.xyz);
        sum.xyz = len > 1e-8 ? sum.xyz / len : vec3(0.0, 0.0, 1.0);
    }
    dstState[o] = sum;
    dstStored[o] = encodeState(sum);
}
