"""PyTorch's side of bench/bench_allreduce.sh: torch.distributed (gloo, CPU) allreduce of the same
ResNet-50-FPN-sized gradient set as bench/allreduce_bench.cpp, flattened into buckets of the same size
(as DDP does), 2 processes on this machine. Prints "RESULT allreduce_r50fpn ms"."""
import os
import sys

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_timing import median_ms  # noqa: E402


def r50_fpn_sizes():
    s = [64 * 3 * 49, 64, 64]
    cin = 64
    for c, n in [(64, 3), (128, 4), (256, 6), (512, 3)]:
        for b in range(n):
            s += [c * cin, c, c, c * c * 9, c, c, 4 * c * c, 4 * c, 4 * c]
            if b == 0:
                s += [4 * c * cin, 4 * c, 4 * c]
            cin = 4 * c
    for ci in [256, 512, 1024, 2048]:
        s += [256 * ci, 256, 256 * 256 * 9, 256]
    return s


def worker(rank, world, reps, bucket_bytes, port):
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    grads = [torch.full((n,), float(rank + 1)) for n in r50_fpn_sizes()]
    buckets, cur, size = [], [], 0
    for g in grads:
        if cur and size + g.numel() * 4 > bucket_bytes:
            buckets.append(cur)
            cur, size = [], 0
        cur.append(g)
        size += g.numel() * 4

    def step():
        for b in buckets + [cur]:
            flat = torch.cat(b)
            dist.all_reduce(flat)
            flat /= world
            off = 0
            for g in b:
                g.copy_(flat[off:off + g.numel()])
                off += g.numel()
        dist.barrier()

    ms = median_ms(step, reps)
    if rank == 0:
        print(f"RESULT allreduce_r50fpn {ms:.2f}", flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    reps = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    bucket = (int(sys.argv[2]) if len(sys.argv) > 2 else 25) << 20
    mp.spawn(worker, args=(2, reps, bucket, 29571), nprocs=2)
