#!/usr/bin/env bash
# The shim's fused channels-last GroupNorm on the GPU machine, in one device call: builds the shim (unpack.sh), then
# `bench --channels-last` for ADM-64 at batch 64 and the shipped base shape at batch 1 and 64, each row giving the
# channels-last time and its largest and RMS difference from the NCHW eager pass in the same process.
#   bash scripts/gpu/fused-check.sh
# Returns machine.txt, fused.md.
set -uo pipefail
source scripts/gpu/begin.sh || exit $?
for run in "adm64 64 10" "compact 1 30" "compact 64 30"; do
  set -- $run
  app EDiffI.Host.dll bench --device cuda --unet $1 --batch $2 --iters $3 --steps 4 --channels-last --machine "$machine (channels-last)" \
    --report "$OUT/fused.md" 2>&1 | grep -E "layout|network evaluation|channels-last|rror|xception" | head -8
done
ls -la "$OUT"
