// Fused GroupNorm → affine → scale-shift → SiLU for channels-last (NHWC) bf16 activations, the chain every residual
// block of the U-Net runs (EDM's DhariwalUNet: silu(shift + norm(x)·(1 + scale))). Eager libtorch runs it as three or
// four passes over the activation and its CUDA GroupNorm converts channels-last input back to NCHW; this is two passes
// (statistics, then one read and one write) on the layout cuDNN's convolutions prefer. Launched on the caller's stream,
// so it is captured into CUDA graphs like any libtorch kernel. Called through ediffi_cudagraphs.cpp, which checks the
// tensors; here only raw pointers.
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <algorithm>
#include <cstdint>

namespace {

constexpr int kThreads = 256;

// Pass 1: per (n, g), Σx and Σx² over the group's H·W·C/G elements, accumulated in double across blocks.
// Grid: (N·G, splits); each block covers a slice of the pixels.
__global__ void group_stats(const __nv_bfloat16* __restrict__ x, double* __restrict__ stats, int hw, int c, int groups, int splits) {
  const int ng = blockIdx.x, n = ng / groups, g = ng % groups;
  const int cg = c / groups;
  const int per = (hw + splits - 1) / splits;
  const int p0 = blockIdx.y * per, p1 = min(hw, p0 + per);
  const int count = (p1 - p0) * cg;
  const __nv_bfloat16* base = x + (static_cast<int64_t>(n) * hw) * c + g * cg;
  float sum = 0.f, sq = 0.f;
  for (int i = threadIdx.x; i < count; i += blockDim.x) {
    const int p = p0 + i / cg, k = i % cg;
    const float v = __bfloat162float(base[static_cast<int64_t>(p) * c + k]);
    sum += v;
    sq += v * v;
  }
  __shared__ float s_sum[kThreads / 32], s_sq[kThreads / 32];
  for (int off = 16; off > 0; off >>= 1) {
    sum += __shfl_down_sync(0xffffffffu, sum, off);
    sq += __shfl_down_sync(0xffffffffu, sq, off);
  }
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (lane == 0) { s_sum[warp] = sum; s_sq[warp] = sq; }
  __syncthreads();
  if (warp == 0) {
    sum = lane < blockDim.x / 32 ? s_sum[lane] : 0.f;
    sq = lane < blockDim.x / 32 ? s_sq[lane] : 0.f;
    for (int off = 16; off > 0; off >>= 1) {
      sum += __shfl_down_sync(0xffffffffu, sum, off);
      sq += __shfl_down_sync(0xffffffffu, sq, off);
    }
    if (lane == 0) {
      atomicAdd(&stats[2 * ng], static_cast<double>(sum));
      atomicAdd(&stats[2 * ng + 1], static_cast<double>(sq));
    }
  }
}

// Pass 2: y = act(shift + (γ·(x − μ)·rstd + β)·(1 + scale)), 8 channels per thread (one 16-byte load and store).
// scale and shift are [N, C] (row stride given), or null; act is SiLU or the identity.
__global__ void group_apply(const __nv_bfloat16* __restrict__ x, __nv_bfloat16* __restrict__ y, const double* __restrict__ stats,
                            const __nv_bfloat16* __restrict__ gamma, const __nv_bfloat16* __restrict__ beta,
                            const __nv_bfloat16* __restrict__ scale, const __nv_bfloat16* __restrict__ shift, int64_t ss_stride,
                            int64_t vectors, int hw, int c, int groups, float eps, bool silu) {
  const int64_t v = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (v >= vectors) return;
  const int64_t e = v * 8;
  const int ch0 = static_cast<int>(e % c);
  const int n = static_cast<int>(e / (static_cast<int64_t>(hw) * c));
  const int cg = c / groups;
  const double elements = static_cast<double>(hw) * cg;
  uint4 raw = *reinterpret_cast<const uint4*>(x + e);
  const __nv_bfloat16* in = reinterpret_cast<const __nv_bfloat16*>(&raw);
  uint4 packed;
  __nv_bfloat16* out = reinterpret_cast<__nv_bfloat16*>(&packed);
  for (int j = 0; j < 8; j++) {
    const int ch = ch0 + j, g = ch / cg;
    const double mean = stats[2 * (n * groups + g)] / elements;
    const double var = fmax(stats[2 * (n * groups + g) + 1] / elements - mean * mean, 0.0);
    const float rstd = static_cast<float>(rsqrt(var + eps));
    float t = (__bfloat162float(in[j]) - static_cast<float>(mean)) * rstd;
    if (gamma) t = t * __bfloat162float(gamma[ch]) + __bfloat162float(beta[ch]);
    if (scale) t = t * (1.f + __bfloat162float(scale[n * ss_stride + ch])) + __bfloat162float(shift[n * ss_stride + ch]);
    if (silu) t = t / (1.f + __expf(-t));
    out[j] = __float2bfloat16(t);
  }
  *reinterpret_cast<uint4*>(y + e) = packed;
}

}  // namespace

// x, y: [N, C, H, W] bf16 in channels-last memory (C innermost), C a multiple of 8 and of groups; gamma, beta: [C] or
// null; scale, shift: [N, C] rows ss_stride apart, or null; stats: 2·N·groups doubles of scratch. Returns a CUDA error.
extern "C" int ediffi_gn_nhwc_launch(const void* x, void* y, double* stats, const void* gamma, const void* beta,
                                     const void* scale, const void* shift, int64_t ss_stride, int n, int c, int hw,
                                     int groups, float eps, int silu, cudaStream_t stream) {
  cudaMemsetAsync(stats, 0, sizeof(double) * 2 * n * groups, stream);
  const int64_t elements = static_cast<int64_t>(hw) * (c / groups);
  const int splits = static_cast<int>(std::min<int64_t>(64, std::max<int64_t>(1, elements / (kThreads * 16))));
  group_stats<<<dim3(n * groups, splits), kThreads, 0, stream>>>(static_cast<const __nv_bfloat16*>(x), stats, hw, c, groups, splits);
  const int64_t vectors = static_cast<int64_t>(n) * hw * c / 8;
  const int blocks = static_cast<int>((vectors + kThreads - 1) / kThreads);
  group_apply<<<blocks, kThreads, 0, stream>>>(static_cast<const __nv_bfloat16*>(x), static_cast<__nv_bfloat16*>(y), stats,
      static_cast<const __nv_bfloat16*>(gamma), static_cast<const __nv_bfloat16*>(beta),
      static_cast<const __nv_bfloat16*>(scale), static_cast<const __nv_bfloat16*>(shift), ss_stride,
      vectors, hw, c, groups, eps, silu != 0);
  return static_cast<int>(cudaGetLastError());
}
