#!/usr/bin/env bash
# One model judged on fresh scenes of both splits, short and long captions, in one device call (expects the bundle,
# scripts/gpu/pack.sh): MODEL (default models/default), COUNT (default 512, the standard evaluation), GUIDANCE (2),
# RUNS (default "train,short heldout,short train,long heldout,long"). Returns judge-<split>-<captions>.json.
set -uo pipefail
source scripts/gpu/begin.sh || exit $?
for run in ${RUNS:-train,short heldout,short train,long heldout,long}; do
  split=${run%,*}; captions=${run#*,}
  app Evaluate.dll --model ${MODEL:-models/default} --device cuda --count ${COUNT:-512} --guidance ${GUIDANCE:-2} --split $split \
    --captions $captions --out "$OUT/judge-$split-$captions.json" 2>&1 | tail -4
done
ls -la "$OUT"
