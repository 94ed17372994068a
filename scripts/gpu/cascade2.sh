#!/usr/bin/env bash
# Second cascade run on the GPU machine: sr1024 and the sr256 ablation without noise augmentation side by side,
# then the speed of the whole cascade (text → 1024², and batch 8) with those stages in a copy of the shipped model.
#   bash scripts/gpu/cascade2.sh [training seconds]
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
app() { bash .gpu/run.sh "$@"; }
seconds=${1:-360}
nvidia-smi --query-gpu=name --format=csv,noheader | head -1 | tee "$OUT/machine.txt"
mkdir -p logs
common=(--data world:train --device cuda --steps 1000000 --checkpoint-every 1000 --seconds "$seconds")
app EDiffI.Host.dll train --stage sr1024 --batch 12 --lr 4e-4 --out runs/sr1024 "${common[@]}" > logs/sr1024.log 2>&1 &
app EDiffI.Host.dll train --stage sr256 --aug-max 0 --batch 48 --lr 4e-4 --out runs/sr256-noaug "${common[@]}" > logs/sr256-noaug.log 2>&1 &
wait
for r in sr1024 sr256-noaug; do echo "== $r"; grep -E "step|done|rror" logs/$r.log | tail -2; done
# Speed: the ablation's sr256 has the shipped sr256's shape, so it times the same.
rm -rf /tmp/casc && cp -r models/default /tmp/casc && cp -r runs/sr256-noaug/model /tmp/casc/sr256 && cp -r runs/sr1024/model /tmp/casc/sr1024
python3 - <<'PY'
import json
p='/tmp/casc/model.json'; m=json.load(open(p))
m['cascade']=[{"name":"sr256","kind":"ediffi-sr","folder":"sr256","resolution":256,"defaultSteps":8,"defaultGuidance":1,"augmentationSigma":0.1},
              {"name":"sr1024","kind":"ediffi-sr","folder":"sr1024","resolution":1024,"defaultSteps":4,"defaultGuidance":1,"augmentationSigma":0.1}]
json.dump(m,open(p,'w'),indent=2)
PY
app EDiffI.Host.dll generate --model /tmp/casc --device cuda -p "red bricks" --seed 1 --size 1024 --repeat 4 -o /tmp/one.png 2>&1 | grep -E "^run|rror" | tee logs/speed-1.log
app EDiffI.Host.dll generate --model /tmp/casc --device cuda -p "red bricks" --seed 1 --size 1024 --batch 8 --repeat 3 -o /tmp/eight.png 2>&1 | grep -E "^run|rror" | tee logs/speed-8.log
tar cJf "$OUT/stages2.tar.xz" runs/sr1024/model runs/sr256-noaug/model logs
latest() { ls -d runs/$1/checkpoints/ckpt-* 2>/dev/null | sort | tail -1; }
tar cf - $(latest sr1024) | split -b 15M -d - "$OUT/sr1024-ckpt.tar."
ls -la "$OUT"
