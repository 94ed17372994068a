#!/usr/bin/env bash
# Where a 1024×1024 texture's time goes on the GPU machine, in one device call (expects the bundle: scripts/gpu/pack.sh,
# carried in parts, unpack.sh): the shipped cascade from text at 1024, one texture and a batch of 8, each after warm-up
# runs, with `generate --repeat`'s per-stage wall clock (base, sr256, sr1024), then the same with fewer base steps and
# with the experts kept in host memory, so the 1 s target (cascade issue) can be planned from one run.
#   bash scripts/gpu/cascade-speed.sh
# Returns machine.txt and speed.txt.
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
bash scripts/gpu/unpack.sh || exit $?
app() { bash .gpu/run.sh "$@"; }
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | head -1 | tee "$OUT/machine.txt"
run() {
  echo "== $*" | tee -a "$OUT/speed.txt"
  app EDiffI.Host.dll generate --device cuda -p "red bricks with white mortar" --seed 1 --size 1024 --out /tmp/speed.png "$@" 2>&1 \
    | grep -E "^run|rror|xception" | tee -a "$OUT/speed.txt"
}
run --repeat 4
run --repeat 3 --batch 8
run --repeat 4 --steps 16
run --repeat 4 --steps 8 --sampler euler
run --repeat 4 --precision fp32
run --repeat 4 --experts low-memory
ls -la "$OUT"
