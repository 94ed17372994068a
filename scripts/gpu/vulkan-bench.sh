#!/usr/bin/env bash
# Benchmarks the Vulkan texture path (texture --bench: mip chain, normal map, BC7/BC1/BC5, preview) on the GPU machine
# with its NVIDIA driver, beside the CPU reference in the same run, at 1024² and 2048².
#
# Here, once, from the repository root:
#   ../shared/gpu/prepare.sh Host/EDiffI.Host.csproj && VULKAN=1 bash scripts/gpu/pack.sh   # the host (with the Vulkan plugin) and runtime in .gpuc/ parts
#   echo /.gl/ >>.git/info/exclude; mkdir -p .gl /tmp/amd64/partial
#   o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
#   apt-get $o update; (cd .gl && apt-get $o download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)  # loader + libglvnd (the NVIDIA ICD needs it)
# Then the device tool: carry [".gpuc/manifest", ".gpuc/rt.NN"] for each runtime part, then [".gpuc/manifest", ".gpuc/app.tar"] with the command
# `bash scripts/gpu/unpack.sh` (it stashes them), then carry [".gpuc/manifest", the last part, ".gl"] and the command
#   bash scripts/gpu/vulkan-bench.sh
# Returns in $OUT: machine.txt, devices.txt, bench-1024.md, bench-2048.md (Markdown tables for docs/benchmarks.md).
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
bash scripts/gpu/unpack.sh || exit $?
ls .gl/*.deb >/dev/null 2>&1 || { echo "no .gl/*.deb: download libvulkan1 into .gl (see the top of this script)" >&2; exit 2; }
# The loader, unpacked over / as the device README says (only these packages).
for f in .gl/*.deb; do dpkg -x "$f" /; done; ldconfig
app() { bash .gpu/run.sh EDiffI.Host.dll "$@"; }
{ nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | head -1; nproc; grep -m1 'model name' /proc/cpuinfo; } | tee "$OUT/machine.txt"
app texture --list-devices 2>&1 | tee "$OUT/devices.txt"
if ! grep -q "^Vulkan 0:" "$OUT/devices.txt"; then
  # The NVIDIA ICD is there but not where the loader looks by default.
  export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  echo "retrying with VK_DRIVER_FILES=$VK_DRIVER_FILES" | tee -a "$OUT/devices.txt"
  app texture --list-devices 2>&1 | tee -a "$OUT/devices.txt"
fi
app texture --bench --bench-size 1024 --bench-repeat 10 2>&1 | tee "$OUT/bench-1024.md"
app texture --bench --bench-size 2048 --bench-repeat 5 2>&1 | tee "$OUT/bench-2048.md"
ls -la "$OUT"
