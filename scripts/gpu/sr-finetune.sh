#!/usr/bin/env bash
# Fine-tunes the shipped super-resolution stages from their weights (`train --stage srN --finetune models/default`),
# sr256 and sr1024 side by side on the one GPU for the same wall-clock time, then measures shipped and fine-tuned
# stages on real held-out renders in the same run (`Evaluate sr`: PSNR, SSIM, sharpness beside bicubic; 64 scenes for
# sr256, 12 for sr1024, each stage at the model's default settings).
#   [STAGES="sr256"] [RESIDUAL=1] bash scripts/gpu/sr-finetune.sh [seconds]
# RESIDUAL=1 turns the stages residual (`--residual`: they learn the detail over bicubic upsampling, starting from the
# shipped stages' features with a zeroed output layer, so from bicubic itself) and measures them over a σ_max sweep.
# A run that dies at its start on TorchSharp's native scalar race (see docs/results.md) is started again, twice at most.
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
common=(--finetune /tmp/start --base /tmp/start --data world:train --device cuda --steps 1000000 --checkpoint-every 500)
[ "${RESIDUAL:-0}" = 1 ] && common+=(--residual)
# Fewer collections, fewer chances for a finalised TorchSharp Scalar to be freed under a native call (HeldScalars).
export DOTNET_GCgen0size=0x10000000
train_stage() { # stage batch: a run killed by that race resumes from its last checkpoint for the time left, twice at most
  local start=$SECONDS left
  for attempt in 1 2 3; do
    left=$(( seconds - (SECONDS - start) )); [ $left -gt 20 ] || return 0
    app EDiffI.Host.dll train --stage $1 --batch $2 --lr 2e-4 --out runs/srft-${1#sr} "${common[@]}" --seconds $left >> "$OUT/$1.log" 2>&1 && return 0
    tail -c 20000 "$OUT/$1.log" | grep -q "Expected false to be true" || return 1
    echo "attempt $attempt died on the native scalar race; resuming" >> "$OUT/$1.log"
  done
}
# STAGES picks the stages to train (default both, side by side); the others are measured as they are.
stages=${STAGES:-sr256 sr1024}
for st in $stages; do
  case $st in sr256) batch=48 ;; sr1024) batch=12 ;; *) echo "unknown stage $st"; exit 2 ;; esac
  : > "$OUT/$st.log"; train_stage $st $batch &
done
wait
for st in $stages; do grep -E "step|done|rror" "$OUT/$st.log" | tail -2; done
rm -rf /tmp/tuned && cp -r /tmp/start /tmp/tuned
for st in 256 1024; do
  [ -f runs/srft-$st/model/stage.json ] || [ -d runs/srft-$st/model ] || { echo "sr$st: no exported stage"; continue; }
  rm -rf /tmp/tuned/sr$st && cp -r runs/srft-$st/model /tmp/tuned/sr$st
done
ev() { app Evaluate.dll sr --device cuda "$@" 2>&1 | grep -viE "warn|^\s*$" | tail -6; }
if [ "${RESIDUAL:-0}" = 1 ]; then
  # The shipped stages' numbers are in docs/results.md (each JSON has bicubic beside); the residual ones over σ_max.
  ev --model /tmp/tuned --count 64 --steps 1 --sigma-max 0.05,0.1,0.2,0.4,1 --out "$OUT/sr-tuned-256-s1.json"
  ev --model /tmp/tuned --count 64 --steps 4 --sigma-max 0.25,0.5 --out "$OUT/sr-tuned-256-s4.json"
  ev --model /tmp/tuned --stage sr1024 --count 12 --steps 1 --sigma-max 0.03,0.1,0.2 --out "$OUT/sr-tuned-1024-s1.json"
else
  for m in shipped:models/default tuned:/tmp/tuned; do
    ev --model "${m#*:}" --count 64 --out "$OUT/sr-${m%%:*}-256.json"
    ev --model "${m#*:}" --stage sr1024 --count 12 --out "$OUT/sr-${m%%:*}-1024.json"
  done
fi
(cd /tmp/tuned && tar cJf "$OUT/srft-model.tar.xz" sr256 sr1024)
ls -la "$OUT"
# The device tool brings back at most 8 files.
[ "$(ls "$OUT" | wc -l)" -le 8 ] || echo "more than 8 files in \$OUT: some will not come back"
