#!/usr/bin/env bash
# The trainer on the GPU machine, in one device call each (expects the bundle: scripts/gpu/pack.sh, then unpack.sh):
#   bash scripts/gpu/train-round.sh throughput
#       the PyTorch peer (scripts/gpu/unet_peer.py, eager and static torch.compile) and our `train` at batch 64, 256 and
#       1024, with and without --data-reuse, in the same call, on the shipped compact shape and encoders; plus one
#       --profile run. Returns machine.txt, peer.txt, ours.txt, profile.txt.
#   SECONDS_PER_EXPERT=420 BATCH=256 REUSE=4 bash scripts/gpu/train-round.sh round
#       a training round: the shipped experts (or the model a previous round returned, carried/round-model.tar.xz)
#       fine-tuned at once in three processes for the time given, assembled into one model, and judged beside the
#       shipped model on 512 fresh scenes. Returns machine.txt, round-*.log, accuracy.json, round-model.tar.xz.
#   GROW=compact32 RUN=runs/grow EVAL_SHIPPED=0 SPLITS="train heldout" ... bash scripts/gpu/train-round.sh round
#       the same with each expert grown into a larger shape first (train --grow: the trained weights kept, the added
#       attention starting at zero). A second call on the still-warm machine with the same RUN resumes every expert from
#       its checkpoint there. EVAL_SHIPPED=0 judges only the new model; SPLITS adds the held-out combinations.
set -uo pipefail
source scripts/gpu/begin.sh || exit $?
[ -x /tmp/dotnet-rt/dotnet ] || { mkdir -p /tmp/dotnet-rt && tar xJf .gpu/dotnet-rt.tar.xz -C /tmp/dotnet-rt; }
ENC="--t5 models/default/t5 --clip models/default/clip"
case "${1:-throughput}" in
throughput)
  # BATCHES (default "64 256 1024") and AGAIN=0 (skip the second pass of ours after the peer) shorten the call.
  batches=${BATCHES:-64 256 1024}
  for b in $batches; do
    for r in 1 4; do
      steps=$(( b == 64 ? 300 : b == 256 ? 160 : 80 ))
      app EDiffI.Host.dll train --device cuda --data world:train,mixed --unet compact $ENC --batch $b --steps $steps \
        --data-reuse $r --checkpoint-every 1000000 --out /tmp/tp-$b-$r > /tmp/tp-$b-$r.log 2>&1
      echo "ours batch $b reuse $r: $(grep -E "training step $steps/" /tmp/tp-$b-$r.log | tail -1)" | tee -a "$OUT/ours.txt"
      grep -iE "rror|exception" /tmp/tp-$b-$r.log | head -3
    done
  done
  app EDiffI.Host.dll train --device cuda --data world:train,mixed --unet compact $ENC --batch 256 --steps 100 --data-reuse 4 \
    --profile --checkpoint-every 1000000 --out /tmp/tp-profile > /tmp/tp-profile.log 2>&1
  sed -n '/^profile/,$p' /tmp/tp-profile.log | tee "$OUT/profile.txt"
  timeout 300 python3 scripts/gpu/unet_peer.py --batches "$(echo $batches | tr ' ' ,)" --variants eager,compile --shapes static --steps 40 > "$OUT/peer.txt" 2>&1
  grep PEER_RESULT "$OUT/peer.txt" | cut -c1-160
  [ "${AGAIN:-1}" = 0 ] && batches=""
  for b in $batches; do for r in 1 4; do
    app EDiffI.Host.dll train --device cuda --data world:train,mixed --unet compact $ENC --batch $b --steps $(( b == 64 ? 300 : b == 256 ? 160 : 80 )) \
      --data-reuse $r --checkpoint-every 1000000 --out /tmp/tp2-$b-$r > /tmp/tp2-$b-$r.log 2>&1
    echo "ours (after the peer) batch $b reuse $r: $(grep -E "training step" /tmp/tp2-$b-$r.log | tail -1)" | tee -a "$OUT/ours.txt"
    [ $SECONDS -gt 520 ] && break 2
  done; done
  ;;
round)
  secs=${SECONDS_PER_EXPERT:-420}; batch=${BATCH:-256}; reuse=${REUSE:-4}
  run=${RUN:-runs/round}; grow=(); [ -n "${GROW:-}" ] && grow=(--grow "$GROW")
  from=${FROM:-models/default}
  if ls carried/round-model.tar.xz* >/dev/null 2>&1; then
    rm -rf runs/round-prev && mkdir -p runs/round-prev && cp -r models/default runs/round-prev/model && cat carried/round-model.tar.xz* | tar xJf - -C runs/round-prev
    from=runs/round-prev/model; echo "continuing from the model a previous round returned"
  fi
  # EXPERTS trains only those (the others' runs already in $run); STEPS with CKPT checkpoints and retries up to 3 times.
  for e in ${EXPERTS:-lowest middle highest}; do
    ( for try in 1 2 3; do
        app EDiffI.Host.dll train --data world:train,mixed --finetune "$from" "${grow[@]}" --nodes $e --steps "${STEPS:-1000000}" --seconds "$secs" \
          --batch "$batch" --data-reuse "$reuse" --checkpoint-every "${CKPT:-1000000}" --device cuda --out $run/$e >> "$OUT/round-$e.log" 2>&1 && break
        echo "expert $e: try $try failed" | tee -a "$OUT/round-$e.log"
      done ) &
  done
  wait
  for e in lowest middle highest; do grep -E "expert|spent|done|rror" "$OUT/round-$e.log" | tail -3; grep -E "step" "$OUT/round-$e.log" | tail -1; done
  rm -rf $run/model && cp -r "$from" $run/model
  for e in lowest middle highest; do
    [ -f $run/$e/model/$e/unet.safetensors ] || { echo "expert $e did not train"; exit 1; }
    rm -rf $run/model/$e && cp -r $run/$e/model/$e $run/model/$e
  done
  # Steps of the assembled model: the start's, plus what each expert's run added to it.
  python3 - "$from" "$run" <<'PY'
import json, sys
base = json.load(open(sys.argv[1] + "/model.json"))
steps = base.get("trainedSteps", 0)
for e in ("lowest", "middle", "highest"):
    steps += json.load(open(f"{sys.argv[2]}/{e}/model/model.json")).get("trainedSteps", 0) - base.get("trainedSteps", 0)
base["trainedSteps"] = steps
json.dump(base, open(sys.argv[2] + "/model/model.json", "w"), indent=2)
print("trained steps now", steps)
PY
  tar cJf "$OUT/round-model.tar.xz" -C $run model/lowest model/middle model/highest model/model.json  # before the judging, so a call cut short still returns the model
  models=(); [ "${EVAL_SHIPPED:-1}" = 1 ] && models=(--model models/default)
  for split in ${SPLITS:-train}; do
    app Evaluate.dll "${models[@]}" --model $run/model --device cuda --count 512 --guidance 2 --split $split --out "$OUT/accuracy-$split.json" 2>&1 | tail -8
  done
  ;;
esac
ls -la "$OUT"
