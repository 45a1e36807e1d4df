"""Hugging Face `tokenizers` encode throughput, for bench/tokenizer.ts (which runs this with the venv's
Python): python tokenizer_hf.py <tokenizer.json[.gz]> <documents.jsonl>  ->  one JSON line of figures."""
import gzip
import json
import os
import sys
import time

os.environ.setdefault("RAYON_NUM_THREADS", "1")  # one thread, before tokenizers starts its pool
from tokenizers import Tokenizer  # noqa: E402

path, docs_path = sys.argv[1], sys.argv[2]
text = gzip.open(path, "rt").read() if path.endswith(".gz") else open(path).read()
tok = Tokenizer.from_str(text)
docs = [json.loads(line)["text"] for line in open(docs_path, encoding="utf-8")]
megabytes = sum(len(d.encode("utf-8")) for d in docs) / 1e6


def timed(fn):
    fn()  # warm-up: fills the BPE cache, as ours gets
    start = time.perf_counter()
    tokens = fn()
    return megabytes / (time.perf_counter() - start), tokens


loop_mbs, tokens = timed(lambda: sum(len(tok.encode(d, add_special_tokens=False).ids) for d in docs))
batch_mbs, _ = timed(lambda: sum(len(e.ids) for e in tok.encode_batch(docs, add_special_tokens=False)))
print(json.dumps({"loop_mb_s": loop_mbs, "batch_1thread_mb_s": batch_mbs, "tokens": tokens}))
