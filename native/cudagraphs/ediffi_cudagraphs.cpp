// EDiffI's optional CUDA graph shim: captures the CUDA work a thread enqueues through libtorch (here: one network
// evaluation run from C# through TorchSharp) into a graph, and replays it with one launch. TorchSharp 0.107 exposes no
// CUDA graphs, so this library wraps at::cuda::CUDAGraph behind a C ABI. It is built against the libtorch the app runs
// on (the PyTorch install's headers and libraries; `bash native/cudagraphs/build.sh`) and loaded when present
// (Abstractions/Denoising/CudaGraphs.cs); without it the app runs eagerly, as it does on CPU.
//
// Interface version 2 adds ediffi_group_norm_nhwc (ediffi_groupnorm.cu): fused GroupNorm, scale-shift and SiLU on
// channels-last bf16 activations.
//
// Every entry returns 0 on success and -1 on failure, with the reason in ediffi_cg_last_error() (thread-local).
#include <ATen/cuda/CUDAGraph.h>
#include <ATen/cuda/CUDAEvent.h>
#include <c10/cuda/CUDAStream.h>
#include <c10/cuda/CUDAFunctions.h>

#include <ATen/ATen.h>
#include <ATen/cuda/CUDAContext.h>

#include <exception>
#include <optional>
#include <string>

namespace {

thread_local std::string last_error;

struct Capture {
  at::cuda::CUDAGraph graph;
  std::optional<c10::cuda::CUDAStream> caller;  // the stream that was current before the capture
  std::optional<c10::cuda::CUDAStream> side;    // the capture stream (graphs cannot be captured on the default one)
  bool capturing = false;
  bool ready = false;
};

int fail(const char* what, const std::exception& e) {
  last_error = std::string(what) + ": " + e.what();
  return -1;
}

// Makes `waiter` wait for the work enqueued so far on `on`.
void wait_for(const c10::cuda::CUDAStream& waiter, const c10::cuda::CUDAStream& on) {
  at::cuda::CUDAEvent event;
  event.record(on);
  event.block(waiter);
}

}  // namespace

extern "C" {

// The shim's interface version; the C# side refuses a library whose version it does not know.
int ediffi_cg_version() { return 2; }

const char* ediffi_cg_last_error() { return last_error.c_str(); }

// A new, empty capture, or null (see ediffi_cg_last_error).
void* ediffi_cg_create() {
  try {
    return new Capture();
  } catch (const std::exception& e) {
    fail("create", e);
    return nullptr;
  }
}

// Starts capturing on a side stream of `device`, which waits for the caller's stream first; until ediffi_cg_end, the
// calling thread's libtorch work is recorded, not run. Thread-local capture mode: other threads keep running CUDA work.
int ediffi_cg_begin(void* handle, int device) {
  auto* c = static_cast<Capture*>(handle);
  try {
    if (c->capturing || c->ready) throw std::runtime_error("this capture was already begun");
    c->caller = c10::cuda::getCurrentCUDAStream(static_cast<c10::DeviceIndex>(device));
    c->side = c10::cuda::getStreamFromPool(false, static_cast<c10::DeviceIndex>(device));
    wait_for(*c->side, *c->caller);
    c10::cuda::setCurrentCUDAStream(*c->side);
    c->capturing = true;
    c->graph.capture_begin({0, 0}, cudaStreamCaptureModeThreadLocal);
    return 0;
  } catch (const std::exception& e) {
    if (c->caller) c10::cuda::setCurrentCUDAStream(*c->caller);
    c->capturing = false;
    return fail("capture_begin", e);
  }
}

// Ends the capture (instantiating the graph) and makes the caller's stream current again. A capture that an
// uncapturable operation broke fails here; the caller then runs eagerly.
int ediffi_cg_end(void* handle) {
  auto* c = static_cast<Capture*>(handle);
  if (!c->capturing) {
    last_error = "capture_end: no capture was begun";
    return -1;
  }
  int rc = 0;
  try {
    c->graph.capture_end();
    c->ready = true;
  } catch (const std::exception& e) {
    rc = fail("capture_end", e);
  }
  c->capturing = false;
  try {
    c10::cuda::setCurrentCUDAStream(*c->caller);
    wait_for(*c->caller, *c->side);
  } catch (const std::exception& e) {
    if (rc == 0) rc = fail("capture_end (restoring the stream)", e);
  }
  return rc;
}

// Replays a captured graph on the current stream.
int ediffi_cg_replay(void* handle) {
  auto* c = static_cast<Capture*>(handle);
  try {
    if (!c->ready) throw std::runtime_error("nothing was captured");
    c->graph.replay();
    return 0;
  } catch (const std::exception& e) {
    return fail("replay", e);
  }
}

// Frees the graph and its private memory pool.
void ediffi_cg_destroy(void* handle) {
  try {
    delete static_cast<Capture*>(handle);
  } catch (...) {
  }
}

int ediffi_gn_nhwc_launch(const void* x, void* y, double* stats, const void* gamma, const void* beta, const void* scale,
                          const void* shift, int64_t ss_stride, int n, int c, int hw, int groups, float eps, int silu,
                          cudaStream_t stream);

// out = act(shift + (γ·GroupNorm(x) + β)·(1 + scale)) for x [N, C, H, W] in channels-last bf16 on CUDA; the handles are
// TorchSharp's tensor handles (at::Tensor*); gamma/beta, scale/shift may be null (scale and shift go together, each
// [N, C] with unit channel stride). out must have x's shape and strides. act is SiLU when silu != 0. Returns 1, doing
// nothing, when the kernel does not apply to these tensors (misaligned for its 16-byte loads): the caller runs eagerly.
int ediffi_group_norm_nhwc(void* x_handle, void* out_handle, void* gamma_handle, void* beta_handle, void* scale_handle,
                           void* shift_handle, int groups, double eps, int silu) {
  try {
    const at::Tensor& x = *static_cast<at::Tensor*>(x_handle);
    at::Tensor& out = *static_cast<at::Tensor*>(out_handle);
    TORCH_CHECK(x.is_cuda() && x.scalar_type() == at::kBFloat16 && x.dim() == 4, "x must be a 4-d bf16 CUDA tensor");
    TORCH_CHECK(x.is_contiguous(at::MemoryFormat::ChannelsLast), "x must be channels-last");
    const int64_t n = x.size(0), c = x.size(1), hw = x.size(2) * x.size(3);
    TORCH_CHECK(groups > 0 && c % groups == 0 && c % 8 == 0, "channels must be a multiple of 8 and of the groups");
    TORCH_CHECK(out.sizes() == x.sizes() && out.strides() == x.strides() && out.scalar_type() == x.scalar_type() &&
                out.device() == x.device(), "out must be like x");
    if (reinterpret_cast<uintptr_t>(x.data_ptr()) % 16 != 0 || reinterpret_cast<uintptr_t>(out.data_ptr()) % 16 != 0) return 1;
    const void* gamma = nullptr;
    const void* beta = nullptr;
    if (gamma_handle) {
      const at::Tensor& g = *static_cast<at::Tensor*>(gamma_handle);
      const at::Tensor& b = *static_cast<at::Tensor*>(beta_handle);
      TORCH_CHECK(g.numel() == c && b.numel() == c && g.is_contiguous() && b.is_contiguous() &&
                  g.scalar_type() == at::kBFloat16 && b.scalar_type() == at::kBFloat16, "gamma and beta must be [C] bf16");
      gamma = g.data_ptr();
      beta = b.data_ptr();
    }
    const void* scale = nullptr;
    const void* shift = nullptr;
    int64_t stride = 0;
    if (scale_handle) {
      const at::Tensor& s = *static_cast<at::Tensor*>(scale_handle);
      const at::Tensor& t = *static_cast<at::Tensor*>(shift_handle);
      TORCH_CHECK(s.dim() == 2 && t.dim() == 2 && s.size(0) == n && s.size(1) == c && t.sizes() == s.sizes() &&
                  s.stride(1) == 1 && t.stride(1) == 1 && s.stride(0) == t.stride(0) &&
                  s.scalar_type() == at::kBFloat16 && t.scalar_type() == at::kBFloat16, "scale and shift must be [N, C] bf16 rows");
      scale = s.data_ptr();
      shift = t.data_ptr();
      stride = s.stride(0);
    }
    auto stats = at::empty({2 * n * groups}, x.options().dtype(at::kDouble));
    int rc = ediffi_gn_nhwc_launch(x.data_ptr(), out.data_ptr(), stats.data_ptr<double>(), gamma, beta, scale, shift, stride,
                                   static_cast<int>(n), static_cast<int>(c), static_cast<int>(hw), groups,
                                   static_cast<float>(eps), silu, at::cuda::getCurrentCUDAStream().stream());
    TORCH_CHECK(rc == 0, "kernel launch failed: ", cudaGetErrorString(static_cast<cudaError_t>(rc)));
    return 0;
  } catch (const std::exception& e) {
    return fail("group_norm_nhwc", e);
  }
}

}  // extern "C"
