#!/usr/bin/env python3
"""PyTorch side of bench/bench_nn.sh: same ops, shapes and thread count as `vps_bench nn`.
usage: nn_torch.py [--device cpu|cuda] THREADS N C H W; prints "RESULT nn_<op>_torch MS"."""
import statistics
import sys
import time

import torch
import torch.nn.functional as F

from torch_timing import device_args, sync

dev = device_args()
threads, N, C, H, W = (int(a) for a in sys.argv[1:6])
torch.set_num_threads(threads)
torch.manual_seed(0)
x = torch.randn(N, C, H, W, device=dev, requires_grad=True)
w = torch.ones(C, device=dev, requires_grad=True)
b = torch.zeros(C, device=dev, requires_grad=True)
rm, rv = torch.zeros(C, device=dev), torch.ones(C, device=dev)
ops = {
    "batch_norm": lambda: F.batch_norm(x, rm, rv, w, b, training=True),
    "group_norm": lambda: F.group_norm(x, 32, w, b),
    "max_pool2d": lambda: F.max_pool2d(x, 3, 2, 1),
    "bilinear_x2": lambda: F.interpolate(x, size=(2 * H, 2 * W), mode="bilinear", align_corners=False),
}
for name, f in ops.items():
    dy = torch.randn(f().shape, device=dev)
    f().backward(dy)  # warm-up
    sync(dev)
    times = []
    for _ in range(5):
        x.grad = None
        t0 = time.perf_counter()
        f().backward(dy)
        sync(dev)
        times.append((time.perf_counter() - t0) * 1e3)
    print(f"RESULT nn_{name}_torch {statistics.median(times):.3f}")
