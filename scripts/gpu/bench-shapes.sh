#!/usr/bin/env bash
# The performance issue's shape timings without the peer, in one device call (expects the bundle, scripts/gpu/pack.sh):
# the shipped base shape (SMALL, default compact32) at batch 1 and 64 with CUDA graphs on and off, and ADM-64 beside
# ediffi64 (cross-attention) at batch 64 in channels-last, so the ediffi64 ÷ ADM-64 ratio comes from one run.
# Returns machine.txt and shapes.md.
set -uo pipefail
source scripts/gpu/begin.sh || exit $?
for b in 1 64; do for g in on off; do
  app EDiffI.Host.dll bench --device cuda --unet ${SMALL:-compact32} --batch $b --iters 50 --steps 32 --cuda-graphs $g \
    --machine "$machine (graphs $g)" --report "$OUT/shapes.md" 2>&1 | grep -E "network evaluation|heun|rror|xception"
done; done
for shape in adm64 ediffi64 adm64; do
  app EDiffI.Host.dll bench --device cuda --unet $shape --batch 64 --iters 20 --steps 32 --channels-last \
    --machine "$machine (channels-last)" --report "$OUT/shapes.md" 2>&1 | grep -E "network evaluation|heun|rror|xception"
done
ls -la "$OUT"
