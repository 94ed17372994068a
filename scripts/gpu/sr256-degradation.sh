#!/usr/bin/env bash
# Does the low-resolution input's degradation keep sr256 from beating bicubic on real renders? Three fine-tunes of
# the shipped residual sr256 side by side on the one GPU for the same wall-clock time, differing only in
# `train --degradation` (the issue's default mix; a light one: mostly the real render, rare and narrow blur and
# JPEG, σ_aug up to 0.3; none but noise augmentation up to 0.2), then each measured with the shipped stage on 64
# held-out real renders over σ_aug and σ_max (`Evaluate sr`, one step from the upsampled input, bicubic beside).
#   bash scripts/gpu/sr256-degradation.sh [seconds]
# Expects the bundle (scripts/gpu/pack.sh parts). Returns machine.txt, train-<variant>.log (3), sr256-degradation.json,
# sr256-variants.tar.xz (the three stages).
set -uo pipefail
source scripts/gpu/begin.sh || exit $?
seconds=${1:-330}
mkdir -p /tmp/deg
echo '{}' > /tmp/deg/default.json
echo '{ "realRender": 0.9, "blurProbability": 0.1, "blurSigmaMin": 0.3, "blurSigmaMax": 0.6, "quantisationProbability": 0.1, "augmentationMax": 0.3 }' > /tmp/deg/light.json
echo '{ "realRender": 1, "blurProbability": 0, "quantisationProbability": 0, "augmentationMax": 0.2 }' > /tmp/deg/clean.json
export DOTNET_GCgen0size=0x10000000
train() { # variant: a run killed by TorchSharp's scalar race resumes from its last checkpoint, twice at most
  local start=$SECONDS left log="$OUT/train-$1.log"
  : > "$log"
  for attempt in 1 2 3; do
    left=$(( seconds - (SECONDS - start) )); [ $left -gt 20 ] || return 0
    app EDiffI.Host.dll train --stage sr256 --finetune models/default --base models/default --data world:train --device cuda \
      --degradation /tmp/deg/$1.json --batch 48 --lr 2e-4 --steps 1000000 --checkpoint-every 500 --seconds $left \
      --out runs/deg-$1 >> "$log" 2>&1 && return 0
    echo "attempt $attempt failed (exit $?); resuming" >> "$log"
  done
}
for v in default light clean; do train $v & done
wait
for v in default light clean; do echo "$v: $(grep -aoE 'step [0-9,]+[^│]*' "$OUT/train-$v.log" | tail -1)"; grep -ac "attempt" "$OUT/train-$v.log"; done
models=(--model models/default)
for v in default light clean; do
  [ -d runs/deg-$v/model ] || { echo "$v: no exported stage"; continue; }
  rm -rf /tmp/m-$v && mkdir -p /tmp/m-$v && cp -r models/default/. /tmp/m-$v/ && rm -rf /tmp/m-$v/sr256 && cp -r runs/deg-$v/model /tmp/m-$v/sr256
  models+=(--model /tmp/m-$v)
done
(cd runs && tar cJf "$OUT/sr256-variants.tar.xz" deg-*/model)
app Evaluate.dll sr --device cuda "${models[@]}" --count 64 --steps 1 --sigma-aug 0,0.1 --sigma-max 0.02,0.05,0.1 \
  --out "$OUT/sr256-degradation.json" 2>&1 | grep -viE "warn|^\s*$" | tail -40
ls -la "$OUT"
