#!/usr/bin/env bash
# Builds the optional CUDA graph shim (ediffi_cudagraphs.cpp) against the PyTorch install the app runs on, on a CUDA
# machine with a C++ compiler and the CUDA headers (a CUDA toolkit or the nvidia-cuda-runtime wheel):
#   bash native/cudagraphs/build.sh [output.so]      (default: native/cudagraphs/libediffi_cudagraphs.so)
# The app finds it through EDIFFI_CUDA_GRAPHS_LIB, or beside its own assemblies; scripts/gpu/*.sh build it first.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/libediffi_cudagraphs.so}
py=${PYTHON:-python3}
read -r torch_dir abi < <("$py" -c 'import os, torch; print(os.path.dirname(torch.__file__), int(torch._C._GLIBCXX_USE_CXX11_ABI))')
cuda_inc=""
for d in ${CUDA_HOME:+$CUDA_HOME/include} /usr/local/cuda/include $("$py" -c 'import os, nvidia; [print(os.path.join(p, s, "include")) for p in nvidia.__path__ for s in sorted(os.listdir(p))]' 2>/dev/null); do
  [ -f "$d/cuda_runtime_api.h" ] && { cuda_inc=$d; break; }
done
[ -n "$cuda_inc" ] || { echo "no CUDA headers (cuda_runtime_api.h) found: set CUDA_HOME" >&2; exit 2; }
cxx=${CXX:-$(command -v g++ || command -v c++ || true)}
[ -n "$cxx" ] || { echo "no C++ compiler found: set CXX" >&2; exit 2; }
nvcc=${NVCC:-$(command -v nvcc || ls ${CUDA_HOME:-/usr/local/cuda}/bin/nvcc 2>/dev/null || true)}
[ -n "$nvcc" ] || { echo "no nvcc found (the fused GroupNorm kernel needs it): set NVCC or CUDA_HOME" >&2; exit 2; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
# The kernel sees only raw pointers, so nvcc never parses the torch headers; sm_80 and newer (bf16).
"$nvcc" -O3 -std=c++17 -Xcompiler -fPIC -c "$here/ediffi_groupnorm.cu" -o "$tmp/groupnorm.o" \
  -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90 -gencode arch=compute_90,code=compute_90
"$cxx" -std=c++17 -O2 -shared -fPIC -D_GLIBCXX_USE_CXX11_ABI="$abi" -Wno-interference-size \
  -I"$torch_dir/include" -I"$torch_dir/include/torch/csrc/api/include" -I"$cuda_inc" \
  "$here/ediffi_cudagraphs.cpp" "$tmp/groupnorm.o" -o "$out" \
  -L"$torch_dir/lib" -Wl,-rpath,"$torch_dir/lib" -ltorch_cuda -ltorch_cpu -lc10_cuda -lc10 -L"$(dirname "$(dirname "$nvcc")")/lib64" -lcudart
echo "built $out (torch at $torch_dir, CUDA headers $cuda_inc)"
