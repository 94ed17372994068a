#!/usr/bin/env bash
# Trains the shipped default model on the GPU machine, resumably, within one device call:
#   bash scripts/gpu/default-model.sh            (after ../shared/gpu/prepare.sh and scripts/gpu/publish-tools.sh)
# Phases (each skips what is finished, so a second call continues the first):
#   1. the small CLIP and T5 encoders (tools/ClipTraining, tools/T5Training), in parallel;
#   2. the base node of configs/trees/default.json, and the text-encoder ablation models (CLIP only, T5 only);
#   3. the level-1 nodes, the middle node, the complement and the baseline continuation, in parallel;
#   4. the level-2 leaves; then every ensemble is exported.
# Every training process gets SIGINT before the budget ends, writes a checkpoint and stops. The state
# travels back through $OUT as a split tar (parts of at most 15 MiB) and is unpacked by the next call.
set -u
BUDGET=${BUDGET:-540}
deadline=$((SECONDS + BUDGET))
left() { echo $((deadline - SECONDS - 45)); }
R=runs/default
L=$R/logs
mkdir -p "$R" "$OUT" "$L"
# unpack the .NET runtime once, before parallel launches race on it
[ -x /tmp/dotnet-rt/dotnet ] || { mkdir -p /tmp/dotnet-rt && tar xJf .gpu/dotnet-rt.tar.xz -C /tmp/dotnet-rt; }
if ls state/part-* >/dev/null 2>&1; then cat state/part-* | tar xf -; echo "unpacked earlier state"; fi
host() { bash .gpu/run.sh EDiffI.Host.dll "$@"; }
T="--device cuda --data world:train,mixed --unet compact --batch ${BATCH:-64} --checkpoint-every 500"
TREE="--schedule configs/trees/default.json --out $R/tree"
ENC="--t5 $R/enc-t5/t5 --clip $R/enc-clip/clip"
log() { echo "[$(date +%T)] $*"; }
done_node() { [ -f "$R/tree/nodes/$1/done.json" ]; }

log "phase 1: encoders"
if [ ! -f "$R/enc-clip/clip/config.json" ]; then
  timeout -s TERM "$(left)" bash .gpu/run.sh ClipTraining.dll --device cuda --seconds ${ENC_SECONDS:-200} --out "$R/enc-clip" > "$L/clip.log" 2>&1 &
fi
if [ ! -f "$R/enc-t5/t5/config.json" ]; then
  timeout -s TERM "$(left)" bash .gpu/run.sh T5Training.dll train --device cuda --seconds ${ENC_SECONDS:-200} --batch 128 --out "$R/enc-t5" > "$L/t5.log" 2>&1 &
fi
wait
tail -12 "$L/clip.log"; tail -4 "$L/t5.log"

if [ -f "$R/enc-clip/clip/config.json" ] && [ -f "$R/enc-t5/t5/config.json" ]; then
  log "phase 2: base node and the text-encoder ablations"
  done_node base || timeout -s TERM "$(left)" bash -c "bash .gpu/run.sh EDiffI.Host.dll train $T $ENC $TREE --nodes base" > "$L/base.log" 2>&1 &
  [ -f "$R/clip-only/model/model.json" ] && grep -q '"trainedSteps": 3000' "$R/clip-only/model/model.json" || \
    timeout -s TERM "$(left)" bash -c "bash .gpu/run.sh EDiffI.Host.dll train $T --t5 none --clip $R/enc-clip/clip --steps 3000 --out $R/clip-only" > "$L/clip-only.log" 2>&1 &
  [ -f "$R/t5-only/model/model.json" ] && grep -q '"trainedSteps": 3000' "$R/t5-only/model/model.json" || \
    timeout -s TERM "$(left)" bash -c "bash .gpu/run.sh EDiffI.Host.dll train $T --t5 $R/enc-t5/t5 --clip none --steps 3000 --out $R/t5-only" > "$L/t5-only.log" 2>&1 &
  wait
  tail -2 "$L/base.log" "$L/clip-only.log" "$L/t5-only.log" 2>/dev/null
fi

if done_node base; then
  log "phase 3: level 1, middle, complement, baseline"
  for n in low high middle not-lowest baseline; do
    done_node $n || timeout -s TERM "$(left)" bash -c "bash .gpu/run.sh EDiffI.Host.dll train $T $ENC $TREE --nodes $n" > "$L/node-$n.log" 2>&1 &
  done
  wait
fi
if done_node low && done_node high; then
  log "phase 4: level-2 leaves"
  for n in lowest highest; do
    done_node $n || timeout -s TERM "$(left)" bash -c "bash .gpu/run.sh EDiffI.Host.dll train $T $ENC $TREE --nodes $n" > "$L/node-$n.log" 2>&1 &
  done
  wait
fi
host train $T $ENC $TREE --export-only > "$L/export.log" 2>&1
for f in "$L"/node-*.log; do [ -f "$f" ] && tail -1 "$f"; done
ls "$R/tree/ensembles" 2>/dev/null

log "packing state"
# Only what a later call or the repository needs: encoder exports, node checkpoints (latest) and done marks,
# ablation models, exported ensembles.
find "$R" -name '*.partial' -prune -o -type f -print | grep -v '/ckpt-.*/' > /tmp/files || true
for c in $(find "$R" -name latest.txt); do d=$(dirname "$c")/$(cat "$c"); find "$d" -type f >> /tmp/files; done
rm -f "$OUT"/part-*
tar cf - -T /tmp/files | split -b 15M - "$OUT/part-"
ls -la "$OUT"
log "done"
