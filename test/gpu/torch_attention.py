"""Reference for attention alone (device-run.sh step `attention`): PyTorch's scaled_dot_product_attention,
causal, bf16, forward and backward timed with CUDA events on each backend PyTorch has for it (its default
choice, FlashAttention-2, cuDNN, memory-efficient), to set beside our flash kernels' times per layer from
`bench/train-throughput.ts --profile` (whose [B, H] = 32 × 8 at 92m is the same work as 16 × 16 here).

    B=16 H=16 T=1024 D=64 python3 test/gpu/torch_attention.py

One JSON line a backend: milliseconds and TFLOP/s, counting causal attention's FLOPs as half the full
product's (forward 4·B·H·T²·D / 2, backward 2.5× that)."""
import json, os

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

B, H, T, D = (int(os.environ.get(k, v)) for k, v in (("B", 16), ("H", 16), ("T", 1024), ("D", 64)))
q, k, v = (torch.randn(B, H, T, D, device="cuda", dtype=torch.bfloat16, requires_grad=True) for _ in range(3))
dout = torch.randn(B, H, T, D, device="cuda", dtype=torch.bfloat16)
forward_flops = 4 * B * H * T * T * D / 2
backends = {"default": None, "flash": SDPBackend.FLASH_ATTENTION, "cudnn": SDPBackend.CUDNN_ATTENTION,
            "efficient": SDPBackend.EFFICIENT_ATTENTION}


def timed(runs=10):
    """Mean forward and backward milliseconds over `runs` after three warm-up runs."""
    for _ in range(3):
        F.scaled_dot_product_attention(q, k, v, is_causal=True).backward(dout)
    torch.cuda.synchronize()
    events = [torch.cuda.Event(enable_timing=True) for _ in range(3)]
    forward = backward = 0.0
    for _ in range(runs):
        events[0].record()
        out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        events[1].record()
        out.backward(dout)
        events[2].record()
        torch.cuda.synchronize()
        forward += events[0].elapsed_time(events[1])
        backward += events[1].elapsed_time(events[2])
    return forward / runs, backward / runs


for name, backend in backends.items():
    try:
        if backend is None:
            fwd, bwd = timed()
        else:
            with sdpa_kernel(backend):
                fwd, bwd = timed()
        print(json.dumps({"sdpa": name, "shape": [B, H, T, D], "fwd_ms": round(fwd, 3), "bwd_ms": round(bwd, 3),
                          "fwd_tflops": round(forward_flops / fwd / 1e9, 1), "bwd_tflops": round(2.5 * forward_flops / bwd / 1e9, 1)}))
    except RuntimeError as error:  # a backend that does not take this shape or GPU
        print(json.dumps({"sdpa": name, "error": str(error)[:200]}))
