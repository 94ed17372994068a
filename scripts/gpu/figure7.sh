#!/usr/bin/env bash
# The paper's Figure 7 at equal training samples (issue 18), on the GPU machine, in three device calls on a warm machine
# (the run folder stays there between calls; expects the bundle: scripts/gpu/pack.sh, then unpack.sh):
#   bash scripts/gpu/figure7.sh all        the three phases below in one call (about 8 minutes on one H200)
#   bash scripts/gpu/figure7.sh base       the base node of configs/trees/figure7.json (900 iterations at batch 256)
#   bash scripts/gpu/figure7.sh branches   the baseline continuation and the five experts at once (six processes), then
#                                           the three ensembles exported; returns figure7-experts.tar.xz.* (parts < 15 MiB)
#   bash scripts/gpu/figure7.sh judge      the three ensembles on the same fresh scenes over guidance 1, 2, 3
#                                           (COUNT, default 256), returns figure7.json
# All from the shipped T5 and CLIP encoders, `--unet compact`, `--data world:train,mixed`, `--data-reuse 4`.
# A phase that finds its nodes finished skips them (done.json), so a call cut short is continued by the same call again.
set -uo pipefail
source scripts/gpu/begin.sh || exit $?
[ -x /tmp/dotnet-rt/dotnet ] || { mkdir -p /tmp/dotnet-rt && tar xJf .gpu/dotnet-rt.tar.xz -C /tmp/dotnet-rt; }
R=${RUN:-runs/figure7}
mkdir -p $R/logs
T="--device cuda --data world:train,mixed --unet compact --batch ${BATCH:-256} --data-reuse ${REUSE:-4} --checkpoint-every 200
   --t5 models/default/t5 --clip models/default/clip --schedule configs/trees/figure7.json --out $R/tree"
done_node() { [ -f "$R/tree/nodes/$1/done.json" ]; }
node() {
  done_node $1 && { echo "node $1: finished before"; return 0; }
  app EDiffI.Host.dll train $T --nodes $1 > $R/logs/$1.log 2>&1
  echo "node $1: rc $? $(grep -E 'step [0-9]+/' $R/logs/$1.log | tail -1)"; grep -iE "rror|xception" $R/logs/$1.log | head -3
  cp $R/logs/$1.log "$OUT/"
}
phase=${1:-}
run_phase() {
case "$1" in
base) node base ;;
branches)
  done_node base || { echo "the base node is not finished: run 'figure7.sh base' first"; exit 2; }
  for n in baseline low high lowest middle highest; do node $n & done
  wait
  app EDiffI.Host.dll train $T --export-only 2>&1 | tail -3
  ls $R/tree/ensembles
  tar cJf - --exclude='*/t5' --exclude='*/clip' --exclude='*/sr256' --exclude='*/sr1024' --exclude='*/height' -C $R/tree ensembles \
    | split -b 15M - "$OUT/figure7-experts.tar.xz."
  ;;
judge)
  models=(); for e in baseline two-experts three-experts; do
    [ -f $R/tree/ensembles/$e/model.json ] || { echo "ensemble $e was not exported: run 'figure7.sh branches' first"; exit 2; }
    models+=(--model $R/tree/ensembles/$e); done
  app Evaluate.dll "${models[@]}" --device cuda --count ${COUNT:-256} --guidance 1,2,3 --split train --out "$OUT/figure7.json" 2>&1 | tail -12
  ;;
*) echo "usage: figure7.sh all|base|branches|judge"; exit 2 ;;
esac
}
if [ "$phase" = all ]; then for p in base branches judge; do run_phase $p || exit $?; done; else run_phase "$phase" || exit $?; fi
ls -la "$OUT"
