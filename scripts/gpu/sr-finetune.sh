#!/usr/bin/env bash
# Fine-tunes the shipped super-resolution stages from their weights (`train --stage srN --finetune models/default`),
# sr256 and sr1024 side by side on the one GPU for the same wall-clock time, then measures shipped and fine-tuned
# stages on real held-out renders in the same run (`Evaluate sr`: PSNR, SSIM, sharpness beside bicubic; 64 scenes for
# sr256, 12 for sr1024, each stage at the model's default settings).
#   [STAGES="sr256"] bash scripts/gpu/sr-finetune.sh [seconds]
# Expects the bundle (scripts/gpu/pack.sh parts; see its header). A later call continues from carried/srft-model.tar.xz
# (the fine-tuned stages that came back) when it is carried: the optimiser state is not kept, the weights are.
# Returns in $OUT: machine.txt, sr256.log, sr1024.log, sr-shipped-*.json, sr-tuned-*.json, srft-model.tar.xz.
set -uo pipefail
source scripts/gpu/begin.sh || exit $?
seconds=${1:-400}
# The starting point: the shipped model, or the one whose fine-tuned stages came back from an earlier call.
rm -rf /tmp/start && cp -r models/default /tmp/start
if [ -f carried/srft-model.tar.xz ]; then
  mkdir -p /tmp/carried && tar xJf carried/srft-model.tar.xz -C /tmp/carried
  for st in sr256 sr1024; do [ -d /tmp/carried/$st ] && rm -rf /tmp/start/$st && cp -r /tmp/carried/$st /tmp/start/$st; done
fi
common=(--finetune /tmp/start --base /tmp/start --data world:train --device cuda --steps 1000000 --checkpoint-every 1000000 --seconds "$seconds")
# STAGES picks the stages to train (default both, side by side); the others are measured as they are.
stages=${STAGES:-sr256 sr1024}
for st in $stages; do
  case $st in sr256) batch=48 ;; sr1024) batch=12 ;; *) echo "unknown stage $st"; exit 2 ;; esac
  app EDiffI.Host.dll train --stage $st --batch $batch --lr 2e-4 --out runs/srft-${st#sr} "${common[@]}" > "$OUT/$st.log" 2>&1 &
done
wait
for st in $stages; do grep -E "step|done|rror" "$OUT/$st.log" | tail -2; done
rm -rf /tmp/tuned && cp -r /tmp/start /tmp/tuned
for st in 256 1024; do
  [ -f runs/srft-$st/model/stage.json ] || [ -d runs/srft-$st/model ] || { echo "sr$st: no exported stage"; continue; }
  rm -rf /tmp/tuned/sr$st && cp -r runs/srft-$st/model /tmp/tuned/sr$st
done
for m in shipped:models/default tuned:/tmp/tuned; do
  app Evaluate.dll sr --model "${m#*:}" --device cuda --count 64 --out "$OUT/sr-${m%%:*}-256.json" 2>&1 | grep -viE "warn|^\s*$" | tail -4
  app Evaluate.dll sr --model "${m#*:}" --stage sr1024 --device cuda --count 12 --out "$OUT/sr-${m%%:*}-1024.json" 2>&1 | grep -viE "warn|^\s*$" | tail -4
done
(cd /tmp/tuned && tar cJf "$OUT/srft-model.tar.xz" sr256 sr1024)
ls -la "$OUT"
# The device tool brings back at most 8 files.
[ "$(ls "$OUT" | wc -l)" -le 8 ] || echo "more than 8 files in \$OUT: some will not come back"
