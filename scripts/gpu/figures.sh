#!/usr/bin/env bash
# The paper's Figures 7 and 8 at equal training samples (issue 18), on the GPU machine (expects the bundle:
# scripts/gpu/pack.sh, then unpack.sh). The run folder stays on the machine between calls while it is warm, and every
# phase skips the nodes and models it finds finished (done.json), so a call cut short is continued by calling again.
#   bash scripts/gpu/figures.sh train     Figure 7's tree (configs/trees/figure7.json: base 900 iterations at batch
#                                          256, then the baseline continuation and the five experts at once) and, beside
#                                          it, Figure 8's single models of 1,800 iterations: CLIP only, T5 only, and T5
#                                          only with the pooled T5 vector in the time embedding (--t5-pooled). "Both" is
#                                          Figure 7's baseline (also 1,800 iterations from both encoders). Exports the
#                                          three ensembles; returns figures-models.tar.xz.* (parts < 15 MiB) and logs.
#   bash scripts/gpu/figures.sh judge7    the three ensembles on the same fresh scenes, guidance 1, 2, 3 (COUNT, 512)
#   bash scripts/gpu/figures.sh judge8    the four text-encoder models, short and long captions, guidance 1, 2, 3
#                                          (COUNT8, default 256)
# Every model trains from the shipped T5 and CLIP encoders, `--unet compact`, `--data world:train,mixed`, `--data-reuse 4`.
set -uo pipefail
source scripts/gpu/begin.sh || exit $?
[ -x /tmp/dotnet-rt/dotnet ] || { mkdir -p /tmp/dotnet-rt && tar xJf .gpu/dotnet-rt.tar.xz -C /tmp/dotnet-rt; }
R=${RUN:-runs/figures}
mkdir -p $R/logs
C="--device cuda --data world:train,mixed --unet compact --batch ${BATCH:-256} --data-reuse ${REUSE:-4} --checkpoint-every 200"
ENC="--t5 models/default/t5 --clip models/default/clip"
TREE="$C $ENC --schedule configs/trees/figure7.json --out $R/tree"
report() { echo "$1: rc $2 $(grep -E 'step [0-9]+/' $R/logs/$1.log | tail -1)"; grep -iE "rror|xception" $R/logs/$1.log | head -3; cp $R/logs/$1.log "$OUT/"; }
node() {
  [ -f "$R/tree/nodes/$1/done.json" ] && { echo "node $1: finished before"; return 0; }
  app EDiffI.Host.dll train $TREE --nodes $1 > $R/logs/$1.log 2>&1; report $1 $?
}
single() { # name, then the encoder options
  local name=$1; shift
  [ -f "$R/$name/model.json" ] && { echo "model $name: finished before"; return 0; }
  app EDiffI.Host.dll train $C "$@" --steps 1800 --out $R/$name > $R/logs/$name.log 2>&1; report $name $?
}
case "${1:-}" in
train)
  single clip-only --t5 none --clip models/default/clip &
  single t5-only --t5 models/default/t5 --clip none &
  single t5-pooled --t5 models/default/t5 --clip none --t5-pooled &
  node base
  for n in baseline low high lowest middle highest; do node $n & done
  wait
  app EDiffI.Host.dll train $TREE --export-only 2>&1 | tail -3
  ls $R/tree/ensembles
  tar cJf - --exclude='*/t5' --exclude='*/clip' --exclude='*/sr256' --exclude='*/sr1024' --exclude='*/height' \
    -C $R tree/ensembles clip-only t5-only t5-pooled | split -b 15M - "$OUT/figures-models.tar.xz."
  ;;
judge7)
  models=(); for e in baseline two-experts three-experts; do
    [ -f $R/tree/ensembles/$e/model.json ] || { echo "ensemble $e was not exported: run 'figures.sh train' first"; exit 2; }
    models+=(--model $R/tree/ensembles/$e); done
  app Evaluate.dll "${models[@]}" --device cuda --count ${COUNT:-512} --guidance 1,2,3 --split train --out "$OUT/figure7.json" 2>&1 | tail -12
  ;;
judge8)
  ln -sfn tree/ensembles/baseline $R/both
  models=(); for m in clip-only t5-only t5-pooled both; do
    [ -f $R/$m/model.json ] || { echo "model $m is not there: run 'figures.sh train' first"; exit 2; }
    models+=(--model $R/$m); done
  for captions in short long; do
    app Evaluate.dll "${models[@]}" --device cuda --count ${COUNT8:-256} --guidance 1,2,3 --split train --captions $captions \
      --out "$OUT/figure8-$captions.json" 2>&1 | tail -14
  done
  ;;
*) echo "usage: figures.sh train|judge7|judge8"; exit 2 ;;
esac
ls -la "$OUT"
