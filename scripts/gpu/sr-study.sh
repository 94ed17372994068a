#!/usr/bin/env bash
# The cascade's measurements on the GPU machine (cascade issue, item 5), in two calls on one warm machine:
#   bash scripts/gpu/sr-study.sh train [seconds]  # trains the sr256 ablation without noise augmentation for as many steps
#                                                 # as the shipped sr256 had (1,822, batch 48), while the shipped stages
#                                                 # are measured on the idle GPU beside it
#   bash scripts/gpu/sr-study.sh eval             # the ablation measured the same way; the cascade from text; speed
#   bash scripts/gpu/sr-study.sh sr1024 [σ_max list]  # only the sr1024 start-from-input sweep
# Measured with tools/Evaluate (`Evaluate sr`, `Evaluate cascade`) through the generation service:
#  - sr256 on 64 real held-out renders against their real 256 renders: PSNR, SSIM, sharpness, beside bicubic, over
#    σ_aug and σ_max sweeps, for the shipped stage and the ablation;
#  - sr1024 on 16 real 256 renders against their real 1024 renders, for the shipped settings (σ_max 4 from noise) and
#    for a copy of the model whose sr1024 starts from its upsampled input (startFromInput, σ_max 0.5 and 1);
#  - text → 256 through the cascade, judged downsampled to 64, against the base and bicubic; 1024 end-to-end speed.
# Expects the bundle (scripts/gpu/pack.sh parts; see its header). Resumes the ablation from runs/sr256-noaug or from
# carried/sr256-noaug-ckpt.tar.* when a previous call left them. Returns in $OUT: machine.txt, *.json results,
# noaug.log, speed logs, sr256-noaug.tar.xz (the ablation's exported stage) and its checkpoint parts.
set -uo pipefail
source scripts/gpu/begin.sh || exit $?
phase=${1:-train}
aug="0,0.05,0.1,0.2,0.4"; tops="0.25,0.5,1,2,4"
# /tmp/start: the shipped model with sr1024 starting from its upsampled input (the same weights, model.json changed).
start_variant() {
  rm -rf /tmp/start && cp -r models/default /tmp/start
  python3 - <<'PY'
import json
p='/tmp/start/model.json'; m=json.load(open(p))
for s in m['cascade']:
    if s['name']=='sr1024': s['startFromInput']=True; s['sigmaMax']=1.0
json.dump(m,open(p,'w'),indent=2)
PY
}
if [ "$phase" = sr1024 ]; then
  # sr1024 starting from its upsampled input (startFromInput) at low σ_max, against the shipped settings' numbers.
  start_variant
  app Evaluate.dll sr --model /tmp/start --stage sr1024 --device cuda --count 16 --steps 4 --sigma-max ${2:-0.1,0.25,0.5} --out "$OUT/sr1024-start.json" 2>&1 | grep -vi warn
elif [ "$phase" = train ]; then
  # The ablation at equal training: the stage with and without noise augmentation, side by side, the same steps.
  seconds=${2:-480}; steps=${3:-800}
  if [ ! -d runs/sr256-noaug ] && ls carried/sr256-ckpt.tar.* >/dev/null 2>&1; then cat carried/sr256-ckpt.tar.* | tar xf -; fi
  common=(--stage sr256 --batch 48 --lr 4e-4 --steps "$steps" --checkpoint-every 200 --seconds "$seconds" --data world:train --device cuda)
  app EDiffI.Host.dll train "${common[@]}" --aug-max 0 --out runs/sr256-noaug > "$OUT/noaug.log" 2>&1 &
  app EDiffI.Host.dll train "${common[@]}" --out runs/sr256-aug > "$OUT/aug.log" 2>&1 &
  wait
  for r in noaug aug; do grep -E "step|done|rror" "$OUT/$r.log" | tail -2; done
  latest() { ls -d runs/$1/checkpoints/ckpt-* 2>/dev/null | sort | tail -1; }
  tar cf - $(latest sr256-noaug) $(latest sr256-aug) | xz -T8 | split -b 15M -d - "$OUT/sr256-ckpt.tar."
  tar cJf "$OUT/sr256-ablation.tar.xz" runs/sr256-noaug/model runs/sr256-aug/model 2>/dev/null
else
  for r in noaug aug; do
    [ -f runs/sr256-$r/model/unet.safetensors ] || { echo "no runs/sr256-$r: run the train phase first"; continue; }
    rm -rf /tmp/$r && cp -r models/default /tmp/$r && rm -rf /tmp/$r/sr256 && cp -r runs/sr256-$r/model /tmp/$r/sr256
    app Evaluate.dll sr --model /tmp/$r --device cuda --count 64 --sigma-aug "$aug" --out "$OUT/sr256-aug-$r.json" 2>&1 | grep -vi warn
  done
  # The shipped stage in float32 on the GPU (the runs above compute in bf16).
  app Evaluate.dll sr --model models/default --device cuda --precision fp32 --count 64 --sigma-max 0.25,1 --out "$OUT/sr256-fp32.json" 2>&1 | grep -vi warn
  start_variant
  app Evaluate.dll sr --model models/default --stage sr1024 --device cuda --count 16 --steps 4,8 --out "$OUT/sr1024-shipped.json" 2>&1 | grep -vi warn
  app Evaluate.dll sr --model /tmp/start --stage sr1024 --device cuda --count 16 --steps 4,8 --sigma-max 0.25,0.5,1 --out "$OUT/sr1024-start.json" 2>&1 | grep -vi warn
  app Evaluate.dll cascade --model models/default --device cuda --size 256 --count 256 --batch 32 --out "$OUT/cascade-256.json" 2>&1 | grep -vi warn
  for steps in 32 16; do
    app EDiffI.Host.dll generate --device cuda -p "red bricks" --seed 1 --size 1024 --steps $steps --repeat 4 -o /tmp/one.png 2>&1 | grep -E "^run|rror" | tee "$OUT/speed-1024-steps$steps.log"
  done
  app EDiffI.Host.dll generate --device cuda -p "red bricks" --seed 1 --size 1024 --batch 8 --repeat 3 -o /tmp/eight.png 2>&1 | grep -E "^run|rror" | tee "$OUT/speed-1024-batch8.log"
fi
ls -la "$OUT"
