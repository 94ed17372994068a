#!/usr/bin/env bash
# Trains the cascade's super-resolution stages on the GPU machine, side by side on one GPU: sr256 (64 → 256),
# sr1024 (256 → 1024) and the sr256 ablation without noise augmentation. Each run resumes from its checkpoint
# when runs/<name>/checkpoints is there (unpack a previous session's returned cascade-ckpt.tar.xz.* first).
# Expects .gpu/ from ../shared/gpu/prepare.sh + scripts/gpu/publish-tools.sh (scripts/gpu/pack.sh carries it as .gpuc).
#   bash scripts/gpu/cascade.sh [training seconds]
# Returns: stages.tar.xz (the three exported stage folders and the logs), cascade-ckpt.tar.xz.NN (the latest
# checkpoint of each run, split in 15 MB parts).
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
app() { bash .gpu/run.sh "$@"; }
seconds=${1:-420}
nvidia-smi --query-gpu=name --format=csv,noheader | head -1 | tee "$OUT/machine.txt"
mkdir -p logs
if ls carried/cascade-ckpt.tar.xz.* >/dev/null 2>&1; then cat carried/cascade-ckpt.tar.xz.* | tar xJf -; fi
common=(--data world:train --device cuda --steps 1000000 --checkpoint-every 1000 --seconds "$seconds")
app EDiffI.Host.dll train --stage sr256 --batch 48 --lr 4e-4 --out runs/sr256 "${common[@]}" > logs/sr256.log 2>&1 &
app EDiffI.Host.dll train --stage sr1024 --batch 12 --lr 4e-4 --out runs/sr1024 "${common[@]}" > logs/sr1024.log 2>&1 &
app EDiffI.Host.dll train --stage sr256 --aug-max 0 --batch 48 --lr 4e-4 --out runs/sr256-noaug "${common[@]}" > logs/sr256-noaug.log 2>&1 &
wait
for r in sr256 sr1024 sr256-noaug; do echo "== $r"; grep -E "step|done|rror" logs/$r.log | tail -3; done
tar cJf "$OUT/stages.tar.xz" runs/sr256/model runs/sr1024/model runs/sr256-noaug/model logs
latest() { ls -d runs/$1/checkpoints/ckpt-* 2>/dev/null | sort | tail -1; }
tar cJf - $(latest sr256) $(latest sr1024) | split -b 15M -d - "$OUT/cascade-ckpt.tar.xz."
ls -la "$OUT"
