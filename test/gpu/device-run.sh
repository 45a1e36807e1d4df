#!/usr/bin/env bash
# One GPU-machine session's worth of checks and figures, in one command (the machine has no Node.js and
# no network; device time is scarce). On the CPU machine, from the project root:
#   ../shared/device/prepare.sh test/gpu/suite.ts lib/cli/main.ts bench/generate.ts bench/train-throughput.ts
#   xz -9 -f .device/*.mjs && cp node_modules/@tensorflow/tfjs-backend-wasm/dist/*.wasm .device/
# then run `bash test/gpu/device-run.sh` there with .device carried; logs and JSON land in $OUT (or ./gpu-out).
# A device command has 10 minutes: STEPS=suite,generate (or eval,dpo) runs a part; all four by default
# (STEPS=precision: decoding with tf32 and bf16 products; STEPS=band: 300 training steps, the build in
# .device/main-old.mjs beside this one, SEEDS='…' and BUILDS='old new' to choose; STEPS=costs: throughput over presets (PRESETS='…' a part) and
# sequence lengths beside torch.compile; STEPS=attention: our flash kernels beside PyTorch's attention,
# and Nsight Compute's account of them; STEPS=speed: training throughput (92m; SPEED_PRESETS='92m 440m'
# for more), profiled, as built and (an A/B) with each environment setting in AB='NAME=0 …' (a kernel
# change's switch; A=0+B=0 sets two) and every other build bundled as .device/train-throughput-<name>.mjs(.xz), beside
# torch.compile, whose reference script prepare does not bundle: copy ../shared/reference/torch_throughput.py
# into .device/; on a machine with several GPUs, STEPS=multi: the losses of N ranks beside one GPU with
# the same global batch, and each GPU's memory over 200 steps; STEPS=scaling: tokens/s on 1, 2, 4, 8 GPUs
# for PRESETS='92m 440m' beside PyTorch DDP + torch.compile, test/gpu/torch_ddp_throughput.py).
# It runs: the GPU suite (every cuda kernel, fused op, quantized kernel and batched decode against the
# CPU, CUDA-graph decoding against op by op); decoding at batch 1, 16 and 32 (float32, q8_0, q4_0; with
# CUDA graphs and without) beside Hugging Face generate in bf16, and a decoding step's kernels; evaluation
# (multiple choice, both scorings) and DPO of the shipped chat model on cuda.
set -uo pipefail
out=${OUT:-gpu-out}
mkdir -p "$out"
source .device/env.sh
xz -dkf .device/*.mjs.xz 2>/dev/null
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$out/gpu.csv" 2>&1
steps=",${STEPS:-suite,generate,eval,dpo},"
step() { echo "== $1 ($(date +%T))" | tee -a "$out/steps.log"; }
wanted() { [[ "$steps" == *",$1,"* ]]; }
# The 92m step of the throughput figures (bench/train-throughput.ts), in the steps that time or profile it.
step92m="--preset 92m --vocab 64798 --batch 32 --seq 1024 --matmul bf16 --backend cuda"

if wanted suite; then
step 'GPU suite'
# (the CPU references of its training tests run on tfjs-backend-wasm, which loads its .wasm files from .device/)
ls .device/*.wasm > /dev/null 2>&1 || echo "no .wasm files in .device/: the tests against the CPU cannot start; copy node_modules/@tensorflow/tfjs-backend-wasm/dist/*.wasm there" | tee -a "$out/steps.log"
node --test .device/suite.mjs > "$out/suite.txt" 2>&1; tail -12 "$out/suite.txt" >> "$out/steps.log"
# (the failing tests by name, in the summary too: a device command brings back at most 8 files)
grep -E '^\s*not ok' "$out/suite.txt" >> "$out/steps.log"
fi

if wanted generate; then
step 'decoding, 92m shape, vocabulary 6,400 (and 64,798 at batch 1): ours (float32, q8_0, q4_0; CUDA graphs or op by op) and Hugging Face bf16'
for weights in float32 q8_0 q4_0; do
  q=$([ "$weights" = float32 ] || echo "--quantize $weights")
  for b in 1 16; do node .device/generate.mjs --preset 92m --vocab 6400 --prompt 32 --new 128 --batch $b $q --backend cuda >> "$out/generate.jsonl" 2>> "$out/generate.err"; done
done
for b in 1 16; do TINYLLM_CUDA_GRAPHS=0 node .device/generate.mjs --preset 92m --vocab 6400 --prompt 32 --new 128 --batch $b --backend cuda >> "$out/generate.jsonl" 2>> "$out/generate.err"; done
for prefill in together each; do node .device/generate.mjs --preset 92m --vocab 6400 --prompt 32 --new 128 --batch 32 --prefill $prefill --backend cuda >> "$out/generate.jsonl" 2>> "$out/generate.err"; done
node .device/generate.mjs --preset 92m --vocab 64798 --prompt 32 --new 128 --batch 1 --backend cuda >> "$out/generate.jsonl" 2>> "$out/generate.err"
python3 - >> "$out/generate.jsonl" 2>> "$out/generate.err" <<'PY'
import json, time, torch
from transformers import LlamaConfig, LlamaForCausalLM
cfg = LlamaConfig(vocab_size=6400, hidden_size=512, intermediate_size=1408, num_hidden_layers=8, num_attention_heads=8,
                  num_key_value_heads=8, max_position_embeddings=1024, rms_norm_eps=1e-5)
m = LlamaForCausalLM(cfg).to('cuda', torch.bfloat16).eval()
for b in (1, 16, 32):
    x = torch.randint(0, 6400, (b, 32), device='cuda')
    run = lambda n: m.generate(x, max_new_tokens=n, min_new_tokens=n, do_sample=False, pad_token_id=0)
    with torch.inference_mode():
        run(8); torch.cuda.synchronize(); t = time.time(); run(128); torch.cuda.synchronize(); s = time.time() - t
    print(json.dumps({'reference': 'transformers generate bf16', 'preset': '92m', 'batch': b, 'aggregate_tok_s': round(b * 128 / s, 1)}))
PY
cat "$out/generate.jsonl" >> "$out/steps.log"
TINYLLM_CUDA_GRAPHS=0 node .device/generate.mjs --preset 92m --vocab 6400 --prompt 32 --new 128 --profile --backend cuda > "$out/decode-profile.txt" 2>&1
TINYLLM_CUDA_GRAPHS=0 node .device/generate.mjs --preset 92m --vocab 6400 --prompt 32 --new 128 --batch 32 --profile --backend cuda >> "$out/decode-profile.txt" 2>&1
cat "$out/decode-profile.txt" >> "$out/steps.log"
fi

if wanted precision; then  # (not in the default run)
step 'decoding with the products on the tensor cores (tf32, bf16): 92m, vocabulary 6,400, batch 1, 16 and 32'
for m in tf32 bf16; do
  for b in 1 16 32; do node .device/generate.mjs --preset 92m --vocab 6400 --prompt 32 --new 128 --batch $b --matmul $m --backend cuda >> "$out/precision.jsonl" 2>> "$out/generate.err"; done
done
cat "$out/precision.jsonl" >> "$out/steps.log"
fi

if wanted speed; then  # (not in the default run)
step 'training throughput: 92m bf16 (vocabulary 64,798, batch 32 × 1024; SPEED_PRESETS adds 440m at 16 × 1024, 1.5b at 8 × 1024) beside torch.compile bf16, each build profiled'
# preset batch steps dim ffn layers heads — one GPU command has room for 92m and 440m with two builds.
while read -r p batch n dim ffn layers heads; do
  [[ " ${SPEED_PRESETS:-92m} " == *" $p "* ]] || continue
  shape="--preset $p --vocab 64798 --batch $batch --seq 1024 --matmul bf16 --backend cuda --steps $n --profile"
  for setting in X=as-built ${AB:-}; do  # (X=as-built: no switch set)
    echo "== $p $setting" >> "$out/speed.txt"
    env ${setting//+/ } node .device/train-throughput.mjs $shape >> "$out/speed.txt" 2>&1
  done
  # The step replayed from a CUDA graph (--cuda-graph; unprofiled: the profile times launches one by one).
  # SIGKILL: the one 1.5b run of it so far never returned, not even to SIGTERM.
  echo "== $p --cuda-graph" >> "$out/speed.txt"
  timeout -s KILL 120 node .device/train-throughput.mjs ${shape% --profile} --cuda-graph >> "$out/speed.txt" 2>&1 || echo "(exit $?)" >> "$out/speed.txt"
  # Other builds bundled beside this one (say main's, bundled before a change and renamed
  # .device/train-throughput-main.mjs): each in the same command, for an A/B of changes that have no switch.
  for build in .device/train-throughput-*.mjs; do
    [ -e "$build" ] || continue
    echo "== $p $build" >> "$out/speed.txt"
    node "$build" $shape >> "$out/speed.txt" 2>&1
  done
  DIM=$dim FFN=$ffn LAYERS=$layers HEADS=$heads KV_HEADS=$heads SEQ=1024 BATCH=$batch WHICH=compile_bf16 python3 .device/torch_throughput.py >> "$out/speed.txt" 2>> "$out/speed.err"
done <<'SHAPES'
92m 32 10 512 1408 8 8
440m 16 6 1024 2816 24 16
1.5b 8 4 2048 5504 24 16
SHAPES
cat "$out/speed.txt" >> "$out/steps.log"
fi

if wanted costs; then  # (not in the default run; ~8 minutes)
step 'how cost grows: presets 16m … 1.5b (vocabulary 64,798, bf16) and sequence 512 / 2048 at 92m, ours beside torch.compile'
# preset dim ffn layers heads batch accum seq — the largest batch × accumulation that fits 80 GB. The
# whole table takes ~11 minutes, more than a command has: PRESETS='16m 42m 92m', then '210m 440m 1.5b'.
presets=" ${PRESETS:-16m 42m 92m 210m 440m 1.5b} "
while read -r p dim ffn layers heads batch accum seq; do
  [[ "$presets" == *" $p "* ]] || continue
  node .device/train-throughput.mjs --preset "$p" --vocab 64798 --batch "$batch" --accum "$accum" --seq "$seq" --matmul bf16 --steps 6 --backend cuda >> "$out/costs.txt" 2>&1
  DIM=$dim FFN=$ffn LAYERS=$layers HEADS=$heads KV_HEADS=$heads SEQ=$seq BATCH=$((batch * accum)) WHICH=compile_bf16 python3 .device/torch_throughput.py >> "$out/costs.txt" 2>> "$out/costs.err"
done <<'SHAPES'
16m 120 384 6 6 64 1 512
42m 288 768 6 6 64 1 512
92m 512 1408 8 8 64 1 512
92m 512 1408 8 8 32 1 1024
92m 512 1408 8 8 16 1 2048
210m 768 2048 16 12 16 1 1024
440m 1024 2816 24 16 16 1 1024
1.5b 2048 5504 24 16 8 1 1024
SHAPES
cat "$out/costs.txt" >> "$out/steps.log"
fi

if wanted band; then  # (not in the default run; the builds old and old-again need .device/main-old.mjs, the build before a numerical change)
step 'a numerical change and its band: 300 steps of 92m (vocabulary 6,400, batch 32 x 1024, English + modern Chinese), the build before (twice) and this one, seeds 0 and 1'
node .device/main.mjs data prepare --workers 0 --tokenizer datasets/tokenizer --input datasets/corpus/en.jsonl.gz datasets/corpus/zh-modern.jsonl.gz --out /tmp/band-data > "$out/band.txt" 2>&1
for seed in ${SEEDS:-0 1}; do
  # (old twice: how far two runs of one build drift apart, atomics' order being free; tf32: this build with
  # float32 activations and TF32 products, the storage and products before bf16 — BUILDS='new tf32')
  for build in ${BUILDS:-old old-again new}; do
    main=$([[ $build = old* ]] && echo .device/main-old.mjs || echo .device/main.mjs)
    matmul=$([ $build = tf32 ] && echo tf32 || echo bf16)
    node $main train --data /tmp/band-data --out /tmp/band-$build-$seed --preset 92m --steps 300 --batch 32 --seq 1024 --seed $seed --eval-every 100 --save-every 0 --matmul $matmul --backend cuda > /dev/null 2>> "$out/band.txt"
    sed "s/^/{\"build\":\"$build\",\"seed\":$seed,\"row\":/; s/\$/}/" /tmp/band-$build-$seed/metrics.jsonl >> "$out/band.jsonl"
  done
done
grep -h '"val' "$out/band.jsonl" | cut -c1-200 >> "$out/steps.log"
fi

if wanted multi; then  # (not in the default run; a machine with several GPUs, issue 21)
gpus=$(nvidia-smi --list-gpus | wc -l)
step "data parallel on $gpus GPUs: the first 20 steps' losses beside one GPU with the same global batch; memory of each GPU over 200 steps"
node .device/main.mjs data prepare --workers 0 --tokenizer datasets/tokenizer --input datasets/corpus/en.jsonl.gz datasets/corpus/zh-modern.jsonl.gz --out /tmp/band-data > "$out/multi.txt" 2>&1
# fp32 products: the runs differ only in the order of the gradient sums (NCCL's average against accumulation).
common="--data /tmp/band-data --preset 42m --batch 8 --seq 256 --steps 20 --eval-every 0 --save-every 0 --matmul fp32 --backend cuda"
node .device/main.mjs train $common --accum "$gpus" --out /tmp/multi-one >> "$out/multi.txt" 2>&1
node .device/main.mjs train $common --gpus "$gpus" --out /tmp/multi-many >> "$out/multi.txt" 2>&1
python3 - "$gpus" >> "$out/multi.txt" 2>&1 <<'PY'
import json, sys
rows = lambda d: [json.loads(l) for l in open(f"/tmp/{d}/metrics.jsonl")]
one, many = rows("multi-one"), rows("multi-many")
worst = max(abs(a["loss"] - b["loss"]) for a, b in zip(one, many))
print(json.dumps({"check": "losses, 1 GPU x accum N vs N GPUs", "gpus": int(sys.argv[1]), "steps": min(len(one), len(many)),
                  "first": [one[0]["loss"], many[0]["loss"]], "last": [one[-1]["loss"], many[-1]["loss"]], "worst_step_difference": worst,
                  "within_2e-3": len(one) == len(many) == 20 and worst < 2e-3}))
PY
nvidia-smi --query-gpu=index,memory.used --format=csv,noheader,nounits -l 1 > "$out/multi-memory.csv" 2>&1 &
smi=$!
node .device/main.mjs train --data /tmp/band-data --preset 92m --batch 16 --seq 1024 --steps 200 --eval-every 0 --save-every 0 --matmul bf16 --backend cuda --gpus "$gpus" --out /tmp/multi-200 >> "$out/multi.txt" 2>&1
kill $smi
python3 - "$out/multi-memory.csv" >> "$out/multi.txt" 2>&1 <<'PY'
import json, sys
used = {}
for line in open(sys.argv[1]):
    parts = [p.strip() for p in line.split(",")]
    if len(parts) == 2 and parts[1].isdigit():
        used.setdefault(int(parts[0]), []).append(int(parts[1]))
# Each GPU's memory, one sample a second from before the ranks start to the end, as [MiB, seconds] runs:
# start-up, then one plateau while the steps run if nothing grows.
runs = {g: [] for g in used}
for g, v in used.items():
    for mib in v:
        if runs[g] and runs[g][-1][0] == mib: runs[g][-1][1] += 1
        else: runs[g].append([mib, 1])
print(json.dumps({"check": "MiB used per GPU over 200 steps, as [MiB, seconds] runs", "gpus": runs}))
PY
grep -h '"check"' "$out/multi.txt" >> "$out/steps.log"
fi

if wanted attention; then  # (not in the default run)
step "attention alone: our flash kernels per layer (92m's profile) beside PyTorch's scaled_dot_product_attention on the same work, and Nsight Compute's account of ours"
node .device/train-throughput.mjs $step92m --steps 10 --profile > "$out/attention-profile.txt" 2>&1
grep "flash_" "$out/attention-profile.txt" > "$out/attention.txt"
python3 test/gpu/torch_attention.py >> "$out/attention.txt" 2>&1
ncu=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
for kernel in ${NCU_KERNELS:-flash_forward flash_backward}; do  # (NCU_KERNELS names any of the profile's kernels; ncu reads hardware counters on Firecracker machines only: KINDS.md)
  [ -n "$ncu" ] && timeout 150 "$ncu" --clock-control none -k "$kernel" -c 1 --section SpeedOfLight --section Occupancy --section WarpStateStats \
    --section SchedulerStats --section MemoryWorkloadAnalysis --section ComputeWorkloadAnalysis --section InstructionStats \
    node .device/train-throughput.mjs $step92m --steps 1 > "$out/ncu-$kernel.txt" 2>&1
done
cat "$out/attention.txt" >> "$out/steps.log"
fi

if wanted scaling; then  # (not in the default run; a machine with several GPUs, issue 21; needs .device/torch_throughput.py)
gpus=$(nvidia-smi --list-gpus | wc -l)
step "scaling: tokens/s on 1, 2, 4, 8 GPUs (up to $gpus), ours (--gpus N) beside PyTorch DDP + torch.compile (torchrun), vocabulary 6,400"
[ -d /tmp/band-data ] || node .device/main.mjs data prepare --workers 0 --tokenizer datasets/tokenizer --input datasets/corpus/en.jsonl.gz datasets/corpus/zh-modern.jsonl.gz --out /tmp/band-data > "$out/scaling.txt" 2>&1
# preset dim ffn layers heads batch accum (rows per GPU a step: batch × accum, 1024 positions each)
presets=" ${PRESETS:-92m 440m} "
while read -r p dim ffn layers heads batch accum; do
  [[ "$presets" == *" $p "* ]] || continue
  for n in 1 2 4 8; do
    [ "$n" -le "$gpus" ] || continue
    node .device/main.mjs train --data /tmp/band-data --out "/tmp/scaling-$p-$n" --preset "$p" --batch "$batch" --accum "$accum" --seq 1024 --steps 30 \
      --eval-every 0 --save-every 0 --matmul bf16 --backend cuda --gpus "$n" > /dev/null 2>> "$out/scaling.txt"
    python3 -c "
import json
rows = [json.loads(l) for l in open('/tmp/scaling-$p-$n/metrics.jsonl')][10:]  # after the first steps (kernels compiled)
print(json.dumps({'name': 'tiny-llm-ts', 'preset': '$p', 'gpus': $n, 'rows_per_gpu': $((batch * accum)), 'tok_s': round(sum(r['tok_s'] for r in rows) / len(rows))}))
" >> "$out/scaling.jsonl" 2>> "$out/scaling.txt"
    DIM=$dim FFN=$ffn LAYERS=$layers HEADS=$heads KV_HEADS=$heads VOCAB=6400 SEQ=1024 BATCH=$((batch * accum)) \
      python3 -m torch.distributed.run --standalone --nproc_per_node "$n" test/gpu/torch_ddp_throughput.py 2>> "$out/scaling.txt" | sed "s/^{/{\"preset\": \"$p\", /" >> "$out/scaling.jsonl"
  done
done <<'SHAPES'
92m 512 1408 8 8 32 1
440m 1024 2816 24 16 16 1
SHAPES
cat "$out/scaling.jsonl" >> "$out/steps.log"
fi

if wanted eval; then
step 'evaluation of the shipped chat model on cuda'
for score in letter option; do
  node .device/main.mjs eval --model datasets/models/chat --task mcq --data datasets/eval/mcq --score $score --backend cuda --json >> "$out/eval.jsonl" 2>> "$out/eval.err"
done
cut -c1-300 "$out/eval.jsonl" >> "$out/steps.log"
fi

if wanted dpo; then
step 'DPO of the shipped chat model on cuda (300 steps, batch 16)'
node .device/main.mjs data prepare --format dpo --tokenizer datasets/tokenizer --input datasets/dpo/train.jsonl.gz --val datasets/dpo/val.jsonl.gz --out /tmp/dpo-data --seq 512 > "$out/dpo-prepare.txt" 2>&1
node .device/main.mjs dpo --model datasets/models/chat --data /tmp/dpo-data --out /tmp/dpo-run --steps 300 --batch 16 --eval-every 50 --eval-batches 30 --save-every 0 --backend cuda > "$out/dpo.txt" 2>&1
tail -5 "$out/dpo.txt" >> "$out/steps.log"; cp /tmp/dpo-run/metrics.jsonl "$out/dpo-metrics.jsonl" 2>/dev/null
fi

step 'done'
