#!/usr/bin/env bash
# Checks data-parallel training through NCCL (train --distributed / --gpus) on the GPU machine.
#   bash scripts/gpu/distributed-check.sh [steps] [global batch]
# Expects the bundle (scripts/gpu/pack.sh parts; see its header).
# 1. One GPU: the same run without --distributed (twice, to see whether the GPU run itself is bit-reproducible) and as
#    one NCCL rank (torchrun-style variables, WORLD_SIZE=1); compares the final checkpoints' tensors bit for bit.
# 2. When nvidia-smi lists 2 or more GPUs: --gpus N at the same global batch, and --gpus 1 for the throughput baseline;
#    the loss curves side by side and images/s (the aim: ≥ 0.9 × N × one GPU).
# Returns in $OUT: machine.txt, nccl.txt, single-a.log, single-b.log, nccl1.log, bitwise.json, and with ≥ 2 GPUs
# gpus1.log, gpusN.log, multi.json (loss curves, images/s, ratio).
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
bash scripts/gpu/unpack.sh || exit $?
app() { bash .gpu/run.sh "$@"; }
steps=${1:-300}; batch=${2:-128}
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee "$OUT/machine.txt"
gpus=$(nvidia-smi -L | wc -l)
nccl_dir=$(python3 -c "import nvidia.nccl, os; print(os.path.join(list(nvidia.nccl.__path__)[0], 'lib'))" 2>/dev/null)
export EDIFFI_NCCL_LIB="$nccl_dir/libnccl.so.2"
echo "EDIFFI_NCCL_LIB=$EDIFFI_NCCL_LIB gpus=$gpus" | tee "$OUT/nccl.txt"
ls -la "$EDIFFI_NCCL_LIB" >> "$OUT/nccl.txt" 2>&1 || { echo "no libnccl.so.2 in python's nvidia.nccl package"; exit 2; }
common=(train --data world:train --unet small --batch "$batch" --steps "$steps" --checkpoint-every 1000000 --device cuda)
rm -rf runs/dist-* 
app EDiffI.Host.dll "${common[@]}" --out runs/dist-single-a > "$OUT/single-a.log" 2>&1
app EDiffI.Host.dll "${common[@]}" --out runs/dist-single-b > "$OUT/single-b.log" 2>&1
RANK=0 WORLD_SIZE=1 LOCAL_RANK=0 MASTER_ADDR=127.0.0.1 MASTER_PORT=29531 \
  app EDiffI.Host.dll "${common[@]}" --distributed --out runs/dist-nccl1 > "$OUT/nccl1.log" 2>&1
tail -3 "$OUT/nccl1.log"
python3 - "$OUT/bitwise.json" <<'PY'
import json, sys, glob, os
from safetensors.torch import load_file
def state(run):
    latest = open(f"runs/{run}/checkpoints/latest.txt").read().strip()
    t = {}
    for f in sorted(glob.glob(f"runs/{run}/checkpoints/{latest}/state-*.safetensors")): t.update(load_file(f))
    return t
def compare(a, b):
    try: x, y = state(a), state(b)
    except Exception as e: return {"error": str(e)}
    diff = [k for k in x if not (k in y and x[k].shape == y[k].shape and bool((x[k] == y[k]).all()))]
    worst = max(((x[k].float() - y[k].float()).abs().max().item(), k) for k in diff if k in y and x[k].shape == y[k].shape) if diff else (0.0, None)
    return {"tensors": len(x), "different": len(diff), "max_abs_diff": worst[0], "worst": worst[1]}
r = {"single_a_vs_single_b": compare("dist-single-a", "dist-single-b"), "single_a_vs_nccl1": compare("dist-single-a", "dist-nccl1")}
json.dump(r, open(sys.argv[1], "w"), indent=2); print(json.dumps(r))
PY
if [ "$gpus" -ge 2 ]; then
  app EDiffI.Host.dll "${common[@]}" --gpus 1 --out runs/dist-gpus1 > "$OUT/gpus1.log" 2>&1
  app EDiffI.Host.dll "${common[@]}" --gpus "$gpus" --out runs/dist-gpusN > "$OUT/gpusN.log" 2>&1
  tail -3 "$OUT/gpusN.log"
  python3 - "$OUT/multi.json" "$gpus" <<'PY'
import json, re, sys
def curve(log):
    pts = [(int(m[1]), float(m[2]), float(m[3])) for m in re.findall(r"step (\d+)/\d+ loss ([0-9.]+) ([0-9.]+) img/s", open(log).read())]
    return {"steps": [p[0] for p in pts], "loss": [p[1] for p in pts], "images_per_s": pts[-1][2] if pts else None}
one, many, n = curve(sys.argv[1].replace("multi.json", "gpus1.log")), curve(sys.argv[1].replace("multi.json", "gpusN.log")), int(sys.argv[2])
ratio = many["images_per_s"] / (n * one["images_per_s"]) if one["images_per_s"] and many["images_per_s"] else None
r = {"gpus": n, "one_gpu": one, "n_gpus": many, "scaling_vs_ideal": ratio, "meets_0.9": ratio is not None and ratio >= 0.9}
json.dump(r, open(sys.argv[1], "w"), indent=2); print(json.dumps({k: r[k] for k in ("gpus", "scaling_vs_ideal", "meets_0.9")}))
PY
else
  echo "one GPU: the multi-GPU part needs nvidia-smi -L to list 2 or more"
fi
ls -la "$OUT"
