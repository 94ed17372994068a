# Sourced first by every script here that runs a job on the GPU machine: `source scripts/gpu/begin.sh || exit $?`.
# Sets $OUT (what comes back; /tmp/out off the device tool), unpacks the bundle the calls carried (unpack.sh, which also
# builds the CUDA graph shim; its status is returned when parts are still missing), defines app (a published assembly
# on the bundle's runtime and PyTorch's libtorch), and names the card in $OUT/machine.txt and $machine.
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
bash scripts/gpu/unpack.sh || return $?
app() { bash .gpu/run.sh "$@"; }
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | head -1 | tee "$OUT/machine.txt"
machine=$(head -1 "$OUT/machine.txt")
