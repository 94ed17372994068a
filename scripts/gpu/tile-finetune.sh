#!/usr/bin/env bash
# Fine-tunes the shipped experts with circular padding in a share of the batches (train --finetune --tile-probability)
# on the GPU machine, then measures seam ratios and the judge's attribute accuracy of the shipped and the fine-tuned
# model side by side in the same run.
#   bash scripts/gpu/tile-finetune.sh [steps per expert] [tile share]
# Expects the bundle (scripts/gpu/pack.sh parts; see its header). Resumes from runs/tile-ft when a previous call on the
# same warm machine, or carried/tile-ft-ckpt.tar.xz.*, left checkpoints.
# Returns in $OUT: machine.txt, ft.log, seams-shipped.json, seams-tuned.json, accuracy.json, tile-ft-model.tar.xz
# (the fine-tuned experts, fp16, and model.json).
set -uo pipefail
source scripts/gpu/begin.sh || exit $?
steps=${1:-400}; share=${2:-0.5}
if ls carried/tile-ft-ckpt.tar.xz.* >/dev/null 2>&1; then cat carried/tile-ft-ckpt.tar.xz.* | tar xJf -; fi
app EDiffI.Host.dll train --data world:train --finetune models/default --tile-probability "$share" --steps "$steps" \
  --batch 256 --lr 1e-4 --checkpoint-every 1000000 --device cuda --out runs/tile-ft > "$OUT/ft.log" 2>&1
grep -E "expert|done|rror|step $steps" "$OUT/ft.log" | tail -8
[ -f runs/tile-ft/model/model.json ] || { echo "fine-tuning did not finish"; exit 1; }
for m in shipped:models/default tuned:runs/tile-ft/model; do
  app Evaluate.dll seams --model "${m#*:}" --device cuda --count 64 --seeds 4 --tile none,xy --out "$OUT/seams-${m%%:*}.json" 2>&1 | grep -E "^tile|rror"
done
app Evaluate.dll --model models/default --model runs/tile-ft/model --device cuda --count 512 --guidance 2 --out "$OUT/accuracy.json" 2>&1 | tail -6
tar cJf "$OUT/tile-ft-model.tar.xz" runs/tile-ft/model/lowest runs/tile-ft/model/middle runs/tile-ft/model/highest runs/tile-ft/model/model.json
ls -la "$OUT"
