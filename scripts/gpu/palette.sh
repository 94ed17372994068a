#!/usr/bin/env bash
# Trains the palette sample's adapter on the shipped model (frozen) on the GPU machine and measures it.
# Resumes from runs/palette when that folder is carried back in (train resumes from the adapter folder).
# Expects .gpu/ from ../shared/gpu/prepare.sh + scripts/gpu/publish-tools.sh + the palette plugin published to
# .gpu/app/extra-plugins/PaletteConditioner (scripts/gpu/pack.sh carries it as .gpuc).
#   bash scripts/gpu/palette.sh [training seconds]
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
app() { bash .gpu/run.sh "$@"; }
seconds=${1:-420}
nvidia-smi --query-gpu=name --format=csv,noheader | head -1 | tee "$OUT/machine.txt"
app EDiffI.Host.dll train --base models/default --adapter palette --data world:train --device cuda --batch 256 --lr 1e-3 \
  --steps 1000000 --seconds "$seconds" --checkpoint-every 500 --out runs/palette \
  --set Plugins:Folders:0="$PWD/.gpu/app/extra-plugins" 2>&1 | tee "$OUT/train.log" | tail -25
cp runs/palette/model.json runs/palette/palette.safetensors "$OUT/"
app Evaluate.dll palette --model runs/palette --device cuda --count ${EVAL_COUNT:-128} --seeds 2 --out "$OUT/palette.json" 2>&1 | tail -8
