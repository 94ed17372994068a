#!/usr/bin/env bash
# Where a 1024×1024 texture's time goes on the GPU machine, in one device call (expects the bundle: scripts/gpu/pack.sh,
# carried in parts, unpack.sh, which also builds the CUDA graph shim): the shipped cascade from text at 1024, one texture
# and a batch of 8, each after warm-up runs, with `generate --repeat`'s per-stage wall clock (base, sr256, sr1024), with
# CUDA graphs on and off and with fewer base steps; then the shipped base shape's evaluation at batch 1 and 64, eager
# against replayed from a graph (`bench`: time and largest difference), so the 1 s target (cascade issue) and the
# launch-bound shapes (performance issue) are measured in one run.
#   bash scripts/gpu/cascade-speed.sh
# Returns machine.txt, speed.txt, bench.md.
set -uo pipefail
source scripts/gpu/begin.sh || exit $?
run() {
  echo "== $*" | tee -a "$OUT/speed.txt"
  app EDiffI.Host.dll generate --device cuda -p "red bricks with white mortar" --seed 1 --size 1024 --out /tmp/speed.png "$@" 2>&1 \
    | grep -E "^run|^CUDA graphs|rror|xception" | tee -a "$OUT/speed.txt"
}
run --repeat 5
run --repeat 5 --cuda-graphs off
run --repeat 3 --batch 8
run --repeat 3 --batch 8 --cuda-graphs off
run --repeat 5 --steps 16
run --repeat 5 --steps 12 --size 256
for b in 1 64; do
  for g in on off; do
    app EDiffI.Host.dll bench --device cuda --unet compact --batch $b --iters 50 --steps 32 --cuda-graphs $g \
      --machine "$machine (graphs $g)" --report "$OUT/bench.md" 2>&1 | grep -E "evaluation|Heun|heun|rror|xception"
  done
done
ls -la "$OUT"
