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
"$cxx" -std=c++17 -O2 -shared -fPIC -D_GLIBCXX_USE_CXX11_ABI="$abi" \
  -I"$torch_dir/include" -I"$torch_dir/include/torch/csrc/api/include" -I"$cuda_inc" \
  "$here/ediffi_cudagraphs.cpp" -o "$out" \
  -L"$torch_dir/lib" -Wl,-rpath,"$torch_dir/lib" -ltorch_cuda -ltorch_cpu -lc10_cuda -lc10
echo "built $out (torch at $torch_dir, CUDA headers $cuda_inc)"
