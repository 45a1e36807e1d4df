"""Reference for the multi-GPU scaling table (device-run.sh step `scaling`): the model of
../shared/reference/torch_throughput.py trained with PyTorch DDP over NCCL, torch.compile and bf16
autocast, one process per GPU as torchrun starts them (minimind's way):

    python3 -m torch.distributed.run --standalone --nproc_per_node N test/gpu/torch_ddp_throughput.py

It imports torch_throughput.py from beside it or from .device/ (copy it there, as for STEPS=speed). Env as
that script (DIM, FFN, LAYERS, HEADS, KV_HEADS, VOCAB, SEQ) and BATCH, the rows per GPU. Rank 0 prints one
JSON line: tokens/s of all GPUs together, the step's time, the largest peak memory of a GPU."""
import json, os, sys, time

import torch
import torch.distributed as dist

sys.path[:0] = [os.path.dirname(os.path.abspath(__file__)), ".device"]
from torch_throughput import CFG, Model, flops_per_token  # noqa: E402


def main():
    dist.init_process_group("nccl")
    rank, world = dist.get_rank(), dist.get_world_size()
    local = int(os.environ.get("LOCAL_RANK", "0"))
    torch.cuda.set_device(local)
    torch.backends.cuda.matmul.allow_tf32 = True
    batch, steps, warm = int(os.environ.get("BATCH", "32")), 15, 5
    torch.manual_seed(0)  # the same weights on every rank, as DDP expects
    model = Model(CFG).cuda()
    nonemb = sum(p.numel() for p in model.parameters()) - model.emb.weight.numel()
    ddp = torch.compile(torch.nn.parallel.DistributedDataParallel(model, device_ids=[local]))
    opt = torch.optim.AdamW(model.parameters(), lr=3e-4, fused=True)
    g = torch.Generator(device="cuda").manual_seed(rank)  # each rank its own rows
    idx = torch.randint(0, CFG["vocab"], (batch, CFG["seq"]), device="cuda", generator=g)
    tgt = torch.randint(0, CFG["vocab"], (batch, CFG["seq"]), device="cuda", generator=g)

    def step():
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = ddp(idx, tgt)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss

    for _ in range(warm):
        step()
    torch.cuda.synchronize()
    dist.barrier()
    torch.cuda.reset_peak_memory_stats()
    t0 = time.time()
    for _ in range(steps):
        loss = step()
    torch.cuda.synchronize()
    dt = (time.time() - t0) / steps
    peak = torch.tensor([torch.cuda.max_memory_allocated() / 2**30], device="cuda")
    dist.all_reduce(peak, op=dist.ReduceOp.MAX)
    if rank == 0:
        tok_s = world * batch * CFG["seq"] / dt
        print(json.dumps(dict(name="ddp_compile_bf16", gpus=world, batch_per_gpu=batch, seq=CFG["seq"], tok_s=round(tok_s),
                              ms_step=round(dt * 1e3, 2), peak_gb_per_gpu=round(peak.item(), 2), loss=round(loss.item(), 3),
                              mfu_vs_989=round(tok_s * flops_per_token(CFG, nonemb) / (world * 989e12), 3))), flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
