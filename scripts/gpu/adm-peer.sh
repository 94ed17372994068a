#!/usr/bin/env bash
# The performance issue's side-by-side measurement in one device call: our ADM-64 and ediffi64 evaluations at batch
# 64 (bf16; eager and replayed from a CUDA graph, with the largest difference between them) and NVlabs/edm's own
# network through ../shared/bench/edm_peer.py (eager fp16, torch.compile, CUDA graphs), ours run again after the peer
# so clock drift shows. Expects the bundle (scripts/gpu/pack.sh; see its header) and .peer/ carried: edm_peer.py and
# NVlabs/edm's dnnlib/, torch_utils/, training/ under .peer/edm (git archive HEAD dnnlib torch_utils training).
#   [SHAPES="adm64"] [LAYOUTS="nchw channels-last"] [VARIANTS=compile-fp16-sdpa] bash scripts/gpu/adm-peer.sh
# LAYOUTS adds our channels-last pass with the shim's fused GroupNorm (`bench --channels-last`) beside the NCHW one.
# Returns machine.txt, ours.md, peer.jsonl.
set -uo pipefail
source scripts/gpu/begin.sh || exit $?
ours() {
  for shape in ${SHAPES:-adm64 ediffi64}; do
    for layout in ${LAYOUTS:-nchw}; do
      flag=(); [ "$layout" = channels-last ] && flag=(--channels-last)
      app EDiffI.Host.dll bench --device cuda --unet $shape --batch 64 --iters 20 --steps 32 "${flag[@]}" --machine "$machine ($1, $layout)" \
        --report "$OUT/ours.md" 2>&1 | grep -E "network evaluation|Heun|heun|layout|rror|xception"
    done
  done
}
ours "before the peer"
[ -f .peer/edm_peer.py ] || { echo "no .peer/edm_peer.py carried"; exit 2; }
EDM=$PWD/.peer/edm PYTHONUNBUFFERED=1 VARIANTS=${VARIANTS:-eager-fp16,compile-fp16-sdpa,cudagraphs-fp16-sdpa} B=64 \
  timeout 400 python3 .peer/edm_peer.py 2>&1 | tee "$OUT/peer.jsonl" | grep -E "^\{|rror"
ours "after the peer"
ls -la "$OUT"
