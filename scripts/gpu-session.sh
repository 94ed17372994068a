#!/usr/bin/env bash
# One whole GPU session (see ../shared/gpu/README.md): benchmarks, then text-to-image end to end on
# CUDA (train a small model on generated captioned shapes, generate on cuda and on cpu), then the
# --torch-lib route without LD_PRELOAD. Results land in $OUT.
#   ../shared/gpu/prepare.sh Host/EDiffI.Host.csproj   # here
#   run: bash scripts/gpu-session.sh  (carry .gpu)     # there
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
machine="$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)"
app() { bash .gpu/run.sh EDiffI.Host.dll "$@"; }
echo "== $machine"
app plugins 2>&1 | tail -12
[ "${SKIP_BENCH:-0}" = 1 ] || bash scripts/gpu-bench.sh

# Captioned shapes for a short end-to-end training run.
python3 - <<'PY'
import os, random
from PIL import Image, ImageDraw
random.seed(0)
d = "/tmp/shapes"; os.makedirs(d, exist_ok=True)
colours = {"red": (220, 40, 40), "green": (40, 180, 60), "blue": (40, 70, 220), "yellow": (230, 210, 40)}
for i in range(512):
    fg, bg = random.sample(list(colours), 2)
    shape = random.choice(["square", "circle"])
    im = Image.new("RGB", (64, 64), colours[bg]); dr = ImageDraw.Draw(im)
    r = random.randint(12, 20); cx, cy = random.randint(r, 64 - r), random.randint(r, 64 - r)
    (dr.rectangle if shape == "square" else dr.ellipse)([cx - r, cy - r, cx + r, cy + r], fill=colours[fg])
    im.save(f"{d}/{i:04d}.png"); open(f"{d}/{i:04d}.txt", "w").write(f"a {fg} {shape} on a {bg} background")
PY
set -o pipefail
timeout ${TRAIN_SECONDS:-300} bash .gpu/run.sh EDiffI.Host.dll train --data /tmp/shapes --out /tmp/run --unet small --device cuda --batch 64 --steps ${TRAIN_STEPS:-3000} --checkpoint-every 1000 --lr 3e-4 2>&1 | grep -E "step [0-9]*000/|training|done|error" | tee "$OUT/train.log"
for p in "a red square on a blue background" "a yellow circle on a green background"; do
  f=$(echo "$p" | tr ' ' '_')
  app generate --model /tmp/run/model --prompt "$p" --seed 1 --batch 4 --steps 32 --guidance 2 --device cuda --out "$OUT/cuda_$f.png" 2>&1 | tail -5
done
app generate --model /tmp/run/model --prompt "a red square on a blue background" --seed 1 --steps 32 --device cpu --out "$OUT/cpu_red_square.png" 2>&1 | tail -2

# The --torch-lib route, without run.sh's LD_PRELOAD.
lib=$(python3 -c "import torch,os;print(os.path.join(os.path.dirname(torch.__file__),'lib'))")
DOTNET_ROOT=/tmp/dotnet-rt /tmp/dotnet-rt/dotnet .gpu/app/EDiffI.Host.dll generate --torch-lib "$lib" --model /tmp/run/model \
  --prompt "a green square on a red background" --seed 2 --device cuda --out "$OUT/torchlib_green_square.png" 2>&1 | tail -3
ls -la "$OUT"
