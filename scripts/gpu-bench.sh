#!/usr/bin/env bash
# Benchmarks only (see gpu-session.sh for the whole check). Results in $OUT/benchmarks.md.
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
machine="$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)"
app() { bash .gpu/run.sh EDiffI.Host.dll "$@"; }
for shape in adm64 ediffi64; do
  app bench --unet $shape --device cuda --batch 64 --iters 10 --steps 32 --machine "$machine" --report "$OUT/benchmarks.md" 2>&1 | grep -E "###|network|Heun|wrappers|images|rate|share"
done
