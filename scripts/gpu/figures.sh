#!/usr/bin/env bash
# The paper's Figures 7 and 8 at equal training samples (issue 18), on the GPU machine (expects the bundle:
# scripts/gpu/pack.sh, then unpack.sh). The run folder stays on the machine between calls while it is warm, and every
# phase skips the nodes and models it finds finished (done.json), so a call cut short is continued by calling again.
#   bash scripts/gpu/figures.sh train     Figure 7's tree (configs/trees/figure7.json: base 900 iterations at batch
#                                          256, then the baseline continuation and the five experts at once) and, beside
#                                          it, Figure 8's single models of 1,800 iterations: CLIP only, T5 only, and T5
#                                          only with the pooled T5 vector in the time embedding (--t5-pooled). "Both" is
#                                          Figure 7's baseline (also 1,800 iterations from both encoders). Exports the
#                                          three ensembles; returns figures-models.tar.xz.* (parts < 15 MiB; the
#                                          ensembles, fig8/<model> and the logs, without the shared encoders: put
#                                          models/default/t5 and clip beside each to use them here)
#   bash scripts/gpu/figures.sh judge7    the three ensembles on the same fresh scenes, guidance 1, 2, 3 (COUNT, 512)
#   bash scripts/gpu/figures.sh judge8    the four text-encoder models, short and long captions, guidance 1, 2, 3
#                                          (COUNT8, default 256)
# Every model trains from the shipped T5 and CLIP encoders, `--unet compact`, `--data world:train,mixed`, `--data-reuse 4`.
# SCHEDULE and STEPS (Figure 8's iterations) change the scale; keep them equal, as configs/trees/figure7.json is to 1,800.
set -uo pipefail
source scripts/gpu/begin.sh || exit $?
[ -x /tmp/dotnet-rt/dotnet ] || { mkdir -p /tmp/dotnet-rt && tar xJf .gpu/dotnet-rt.tar.xz -C /tmp/dotnet-rt; }
R=${RUN:-runs/figures}
mkdir -p $R/logs
C="--device cuda --data world:train,mixed --unet compact --batch ${BATCH:-256} --data-reuse ${REUSE:-4} --checkpoint-every 200"
ENC="--t5 models/default/t5 --clip models/default/clip"
TREE="$C $ENC --schedule ${SCHEDULE:-configs/trees/figure7.json} --out $R/tree"
# The logs travel inside the models' archive: what comes back is at most 8 files.
report() { echo "$1: rc $2 $(grep -E 'step [0-9]+/' $R/logs/$1.log | tail -1)"; grep -iE "rror|xception" $R/logs/$1.log | head -3; }
# Each training process stops by LIMIT seconds into the call (default 540, under the device's 600), keeping its
# checkpoints; the same call again resumes it.
left() { echo $(( ${LIMIT:-540} - SECONDS )); }
trainer() { [ "$(left)" -gt 10 ] || return 124; timeout -s TERM "$(left)" bash .gpu/run.sh EDiffI.Host.dll train "$@"; }
node() {
  [ -f "$R/tree/nodes/$1/done.json" ] && { echo "node $1: finished before"; return 0; }
  trainer $TREE --nodes $1 > $R/logs/$1.log 2>&1; local rc=$?; report $1 $rc; return $rc
}
single() { # name, then the encoder options
  local name=$1; shift
  [ -f "$R/$name/model/model.json" ] && { echo "model $name: finished before"; return 0; }
  trainer $C "$@" --steps ${STEPS:-1800} --out $R/$name > $R/logs/$name.log 2>&1; report $name $?
}
case "${1:-}" in
train)
  single clip-only --t5 none --clip models/default/clip &
  single t5-only --t5 models/default/t5 --clip none &
  single t5-pooled --t5 models/default/t5 --clip none --t5-pooled &
  node base || { wait; echo "the base node did not finish, so no branch started; run 'figures.sh train' again to resume it"; exit 3; }
  for n in baseline low high lowest middle highest; do node $n & done
  wait
  for n in base baseline low high lowest middle highest; do [ -f "$R/tree/nodes/$n/done.json" ] || unfinished+=" $n"; done
  for m in clip-only t5-only t5-pooled; do [ -f "$R/$m/model/model.json" ] || unfinished+=" $m"; done
  [ -z "${unfinished:-}" ] || { echo "not finished in this call:$unfinished; run 'figures.sh train' again to resume them"; exit 3; }
  app EDiffI.Host.dll train $TREE --export-only 2>&1 | tail -3
  ls $R/tree/ensembles
  # Figure 8's models under one folder, each by its name (the judge's JSON and sample grids name a model by its folder).
  mkdir -p $R/fig8
  for m in clip-only t5-only t5-pooled; do ln -sfn ../$m/model $R/fig8/$m; done
  ln -sfn ../tree/ensembles/baseline $R/fig8/both
  tar cJf - --exclude='*/t5' --exclude='*/clip' --exclude='*/sr256' --exclude='*/sr1024' --exclude='*/height' \
    -C $R tree/ensembles clip-only/model t5-only/model t5-pooled/model fig8 logs | split -b 15M - "$OUT/figures-models.tar.xz."
  ;;
judge7)
  models=(); for e in baseline two-experts three-experts; do
    [ -f $R/tree/ensembles/$e/model.json ] || { echo "ensemble $e was not exported: run 'figures.sh train' first"; exit 2; }
    models+=(--model $R/tree/ensembles/$e); done
  app Evaluate.dll "${models[@]}" --device cuda --count ${COUNT:-512} --guidance 1,2,3 --split train --out "$OUT/figure7.json" 2>&1 | tail -12
  ;;
judge8)
  models=(); for m in clip-only t5-only t5-pooled both; do
    [ -f $R/fig8/$m/model.json ] || { echo "model $m is not there: run 'figures.sh train' first"; exit 2; }
    models+=(--model $R/fig8/$m); done
  for captions in short long; do
    app Evaluate.dll "${models[@]}" --device cuda --count ${COUNT8:-256} --guidance 1,2,3 --split train --captions $captions \
      --out "$OUT/figure8-$captions.json" 2>&1 | tail -14
  done
  ;;
*) echo "usage: figures.sh train|judge7|judge8"; exit 2 ;;
esac
ls -la "$OUT"
