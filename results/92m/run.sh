#!/usr/bin/env bash
# The full-size run (issue 19): the 92m preset through the whole pipeline on one GPU — pretraining on
# the large offline corpus, SFT, DPO, evaluation, q8_0/q4_0 quantization with their evaluation, GGUF
# export and a served chat — with every command and its wall time logged, so that what is committed
# beside this script (metrics, reports, transcript) says exactly how it was made.
#
#   RUN=/tmp/run92m CORPUS=/tmp/tinyllm-large STAGES=data,pretrain bash results/92m/run.sh
#
# CORPUS is what `npx tsx datasets/build-corpus.ts --large --out <dir>` wrote (*.jsonl.gz, or unpacked *.jsonl). STAGES picks
# stages in order (default: all): data, pretrain, sft, dpo, eval, quantize, export, serve. Every stage
# can be run again: pretraining resumes from its newest checkpoint, and stops itself after
# PRETRAIN_SECONDS with a checkpoint (SIGINT), so that a device command of 10 minutes runs one piece.
# On a machine without Node (the GPU machine): TINYLLM="node .device/main.mjs" WORKERS=0 (see
# test/gpu/device-run.sh for the bundle).
# Small settings for a try on the CPU: PRESET=nano STEPS=20 WARMUP=2 BATCH=4 SEQ=128 SFT_SEQ=256
# SFT_STEPS=5 DPO_STEPS=5 LIMIT=10.
set -euo pipefail
RUN=${RUN:?RUN: the run folder (outside git)}
CORPUS=${CORPUS:-}
TINYLLM=${TINYLLM:-node lib/cli/tinyllm.js}
PRESET=${PRESET:-92m}
STEPS=${STEPS:-9000}           # pretraining steps in all (of BATCH × SEQ tokens): 9,000 in the recorded run
WARMUP=${WARMUP:-500}
BATCH=${BATCH:-32}
SEQ=${SEQ:-1024}
PRETRAIN_SECONDS=${PRETRAIN_SECONDS:-540}
SFT_STEPS=${SFT_STEPS:-900}
SFT_SEQ=${SFT_SEQ:-512}        # longest SFT conversation / DPO pair, in tokens
DPO_STEPS=${DPO_STEPS:-300}
LIMIT=${LIMIT:-}               # evaluate only the first LIMIT items / documents / questions (a try)
BACKEND=${BACKEND:-auto}
WORKERS=${WORKERS:-}           # encoder threads of data prepare (0 in a bundle: its worker file is not bundled)
STAGES=",${STAGES:-data,pretrain,sft,dpo,eval,quantize,export,serve},"
mkdir -p "$RUN"
limit=${LIMIT:+--limit $LIMIT}

# Log a stage's command, how long it took and (on a GPU) the most device memory in use while it ran
# (nvidia-smi, sampled every 0.5 s) in commands.log, and run it.
run() {
  local started=$SECONDS sampler= peak=
  echo "\$ $*" >> "$RUN/commands.log"
  if command -v nvidia-smi > /dev/null; then
    nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 500 > "$RUN/.memory" 2> /dev/null &
    sampler=$!
  fi
  local status=0
  "$@" || status=$?
  if [ -n "$sampler" ]; then
    kill "$sampler" 2> /dev/null; wait "$sampler" 2> /dev/null
    peak=", peak GPU memory $(sort -n "$RUN/.memory" | tail -1) MiB"
  fi
  echo "# $((SECONDS - started)) s$peak" >> "$RUN/commands.log"
  return $status
}
wanted() { [[ "$STAGES" == *",$1,"* ]]; }

if wanted data; then
  [ -n "$CORPUS" ] || { echo "data: set CORPUS to the large corpus's folder" >&2; exit 1; }
  run $TINYLLM data prepare --tokenizer datasets/tokenizer --input "$CORPUS"/*.jsonl* --out "$RUN/shards" ${WORKERS:+--workers $WORKERS}
  run $TINYLLM data prepare --format sft --tokenizer datasets/tokenizer --input datasets/sft/train.jsonl.gz \
    --val datasets/sft/val.jsonl.gz --out "$RUN/sft-data" --seq "$SFT_SEQ"
  run $TINYLLM data prepare --format dpo --tokenizer datasets/tokenizer --input datasets/dpo/train.jsonl.gz \
    --val datasets/dpo/val.jsonl.gz --out "$RUN/dpo-data" --seq "$SFT_SEQ"
fi

if wanted pretrain; then
  resume=$([ -d "$RUN/pretrain" ] && echo --resume || true)
  # SIGINT after PRETRAIN_SECONDS: the loop saves a checkpoint and exits; the next call resumes exactly.
  status=0
  run timeout --signal=INT "${PRETRAIN_SECONDS}s" $TINYLLM train --preset "$PRESET" --data "$RUN/shards" --out "$RUN/pretrain" \
    --steps "$STEPS" --batch "$BATCH" --seq "$SEQ" --lr 1e-3 --warmup "$WARMUP" --eval-every 250 --eval-batches 20 \
    --save-every 1000 --save-dtype bfloat16 --backend "$BACKEND" $resume || status=$?
  [ "$status" = 0 ] || [ "$status" = 124 ] || exit "$status"
fi

if wanted sft; then
  [ -d "$RUN/pretrain/final" ] || { echo "sft: pretraining has not finished ($RUN/pretrain/final is missing)" >&2; exit 1; }
  run $TINYLLM sft --model "$RUN/pretrain/final" --data "$RUN/sft-data" --out "$RUN/sft" --steps "$SFT_STEPS" --batch 32 \
    --lr 5e-4 --eval-every 100 --eval-batches 15 --save-every 0 --save-dtype bfloat16 --backend "$BACKEND"
fi

if wanted dpo; then
  run $TINYLLM dpo --model "$RUN/sft/final" --data "$RUN/dpo-data" --out "$RUN/dpo" --steps "$DPO_STEPS" --batch 16 \
    --eval-every 50 --eval-batches 30 --save-every 0 --save-dtype bfloat16 --backend "$BACKEND"
fi

# Perplexity and bits per byte on held-out text, the shipped MCQ set by both scorings, answers to the
# SFT held-out questions: for one model directory, into $RUN/eval/<name>.
evaluate() {
  local model=$1 name=$2 out="$RUN/eval/$2"
  mkdir -p "$out"
  for text in zh-modern zh-classical en; do
    run $TINYLLM eval --model "$model" --task ppl --data "datasets/eval/ppl/$text.jsonl.gz" $limit --json --backend "$BACKEND" > "$out/ppl-$text.json"
  done
  for score in letter option; do
    run $TINYLLM eval --model "$model" --task mcq --data datasets/eval/mcq --score "$score" $limit --json --backend "$BACKEND" > "$out/mcq-$score.json"
  done
  run $TINYLLM eval --model "$model" --task gen --data datasets/sft/val.jsonl.gz $limit --json --predictions "$out/gen-predictions.jsonl" \
    --backend "$BACKEND" > "$out/gen.json"
}

if wanted eval; then
  evaluate "$RUN/pretrain/final" base
  evaluate "$RUN/sft/final" sft
  evaluate "$RUN/dpo/final" dpo
fi

if wanted quantize; then
  for type in q8_0 q4_0; do
    rm -rf "$RUN/dpo-$type"
    run $TINYLLM quantize --model "$RUN/dpo/final" --type "$type" --out "$RUN/dpo-$type"
    evaluate "$RUN/dpo-$type" "dpo-$type"
  done
fi

if wanted export; then
  for type in f16 q8_0 q4_0; do
    run $TINYLLM export --model "$RUN/dpo/final" --format gguf --type "$type" --out "$RUN/dpo-$type.gguf"
  done
fi

if wanted serve; then
  # The server on a free port, one chat exchange through the OpenAI API, the transcript kept.
  $TINYLLM serve --model "$RUN/dpo/final" --name "tiny-llm-$PRESET" --port 0 --backend "$BACKEND" > "$RUN/serve.log" 2>&1 &
  server=$!
  trap 'kill $server 2>/dev/null || true' EXIT
  for _ in $(seq 1 120); do grep -q 'http://' "$RUN/serve.log" && break; sleep 0.5; done
  url=$(grep -o 'http://[0-9.:]*' "$RUN/serve.log" | head -1)
  for question in '你是谁？' '“床前明月光”的下一句是什么？' 'What does the command ls do?'; do
    body=$(printf '{"model": "tiny-llm-'"$PRESET"'", "messages": [{"role": "user", "content": "%s"}], "temperature": 0, "max_tokens": 96}' "$question")
    echo "> $question" >> "$RUN/chat-transcript.md"
    run curl -s "$url/v1/chat/completions" -H 'content-type: application/json' -d "$body" >> "$RUN/chat-transcript.md"
    echo >> "$RUN/chat-transcript.md"
  done
  kill $server
fi
