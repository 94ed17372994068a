// EDiffI's optional CUDA graph shim: captures the CUDA work a thread enqueues through libtorch (here: one network
// evaluation run from C# through TorchSharp) into a graph, and replays it with one launch. TorchSharp 0.107 exposes no
// CUDA graphs, so this library wraps at::cuda::CUDAGraph behind a C ABI. It is built against the libtorch the app runs
// on (the PyTorch install's headers and libraries; `bash native/cudagraphs/build.sh`) and loaded when present
// (Abstractions/Denoising/CudaGraphs.cs); without it the app runs eagerly, as it does on CPU.
//
// Every entry returns 0 on success and -1 on failure, with the reason in ediffi_cg_last_error() (thread-local).
#include <ATen/cuda/CUDAGraph.h>
#include <ATen/cuda/CUDAEvent.h>
#include <c10/cuda/CUDAStream.h>
#include <c10/cuda/CUDAFunctions.h>

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
int ediffi_cg_version() { return 1; }

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

}  // extern "C"
