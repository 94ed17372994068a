#version 450
// Normal map from a height map (NormalMaps.FromHeight): Sobel / 8 gradients in height units per pixel, dh/dy toward
// the top of the image, n = normalize(-s dh/dx, -+ s dh/dy, 1) (OpenGL: minus, DirectX: plus), rgb = n/2 + 1/2.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
layout(local_size_x = 8, local_size_y = 8) in;

layout(std430, binding = 0) readonly buffer Height { float h[]; };
layout(std430, binding = 1) writeonly buffer Normals { vec4 n[]; };

layout(push_constant) uniform Params {
    int width, height;
    float strength;
    int wrapX, wrapY;
    float greenSign;  // -1 OpenGL, +1 DirectX
} p;

float H(int x, int y) { return h[y * p.width + x]; }

void main() {
    ivec2 q = ivec2(gl_GlobalInvocationID.xy);
    if (q.x >= p.width || q.y >= p.height) return;
    int up = addressTap(q.y - 1, p.height, p.wrapY != 0), down = addressTap(q.y + 1, p.height, p.wrapY != 0);
    int left = addressTap(q.x - 1, p.width, p.wrapX != 0), right = addressTap(q.x + 1, p.width, p.wrapX != 0);
    float dx = (H(right, up) + 2.0 * H(right, q.y) + H(right, down) - H(left, up) - 2.0 * H(left, q.y) - H(left, down)) / 8.0;
    float dy = (H(left, up) + 2.0 * H(q.x, up) + H(right, up) - H(left, down) - 2.0 * H(q.x, down) - H(right, down)) / 8.0;
    vec3 v = normalize(vec3(-p.strength * dx, p.greenSign * p.strength * dy, 1.0));
    n[q.y * p.width + q.x] = vec4(v * 0.5 + 0.5, 1.0);
}
