"""Hugging Face `generate` on the CPU, the reference for bench/generate.ts: a preset's shape with random
weights, a prompt of 32 ids, then 128 greedy tokens at batch 1, with a given number of threads.
Run it in the same command as ours and compare the ratio. Needs torch + transformers (e.g. in a venv).
Usage: python bench/generate_hf.py [preset threads prompt new]   presets: nano, 16m, 92m (vocab 6,400)"""
import json, sys, time, torch
from transformers import LlamaConfig, LlamaForCausalLM
SHAPES = {'nano': (128, 352, 4, 4, 2), '16m': (120, 384, 6, 6, 6), '92m': (512, 1408, 8, 8, 8)}
a = sys.argv[1:] + ['nano', '2', '32', '128'][len(sys.argv[1:]):]
preset, threads, prompt, new = a[0], int(a[1]), int(a[2]), int(a[3])
d, f, L, h, kv = SHAPES[preset]
torch.set_num_threads(threads); torch.manual_seed(0)
cfg = LlamaConfig(vocab_size=6400, hidden_size=d, intermediate_size=f, num_hidden_layers=L, num_attention_heads=h,
                  num_key_value_heads=kv, max_position_embeddings=1024, rms_norm_eps=1e-5)
m = LlamaForCausalLM(cfg).eval()
x = torch.randint(0, 6400, (1, prompt))
run = lambda n: m.generate(x, max_new_tokens=n, min_new_tokens=n, do_sample=False, pad_token_id=0)
with torch.inference_mode():
    run(8)
    t = time.time(); run(1); first = time.time() - t
    t = time.time(); run(new); total = time.time() - t
print(json.dumps({'torch': torch.__version__, 'preset': preset, 'threads': threads, 'prompt': prompt, 'new_tokens': new,
                  'first_token_ms': round(first * 1000, 1), 'decode_tok_s': round((new - 1) / (total - first), 1), 'total_s': round(total, 2)}))
