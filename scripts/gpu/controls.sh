#!/usr/bin/env bash
# Paint-with-words and style measurements of the shipped model, and the ensemble's cost per step, on the GPU
# machine. Results (JSON and the benchmark report) go to $OUT; docs/results.md and docs/benchmarks.md quote them.
# Expects .gpu/ from ../shared/gpu/prepare.sh + scripts/gpu/publish-tools.sh (+ scripts/gpu/pack.sh to carry it as .gpuc;
# PNG figures are drawn on the CPU).
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
machine="$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)"
app() { bash .gpu/run.sh "$@"; }
part=${1:-all}
if [ "$part" = all ] || [ "$part" = paint ]; then
  app Evaluate.dll paint --device cuda --count 96 --seeds 4 --weights 0,0.1,0.25,0.5,1,2 --out "$OUT/paint-max.json"
  app Evaluate.dll paint --device cuda --count 64 --seeds 4 --weights 0,0.25,0.5,1,2 --weighting std --out "$OUT/paint-std.json"
fi
if [ "$part" = all ] || [ "$part" = style ]; then
  app Evaluate.dll style --device cuda --count 128 --seeds 2 --strengths 0,0.5,1,2 --out "$OUT/style.json"
fi
if [ "$part" = all ] || [ "$part" = bench ]; then
  for shape in compact ediffi64; do
    app EDiffI.Host.dll bench --unet $shape --device cuda --batch 64 --iters 20 --steps 32 --experts 3 \
      --machine "$machine" --report "$OUT/ensemble-cost.md" 2>&1 | tail -12
  done
fi
