#!/usr/bin/env python3
"""PyTorch side of bench/bench_core.sh: the same cases as bench/core_bench.cpp.

usage: python3 bench/core_torch.py [--device cpu|cuda] THREADS [DEVICE] [N] [SIDE]  (N, SIDE: the case sizes)
Prints "RESULT name ms extra" lines (median of 7 after 2 warm-up calls).
"""
import sys

import torch

from torch_timing import device_args, median_ms


def main():
    device = device_args()
    threads = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    device = sys.argv[2] if len(sys.argv) > 2 else device
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 1 << 24
    side = int(sys.argv[4]) if len(sys.argv) > 4 else 4096
    torch.set_num_threads(threads)
    g = torch.Generator().manual_seed(0)
    a, b, c = (torch.rand(n, generator=g).mul_(2).sub_(1).to(device) for _ in range(3))
    ms = median_ms(lambda: a * b + c, 7, 2, device)
    print(f"RESULT core_ew_mul_add {ms:.4f} shape=[{n}] GB/s={4 * n * 4 / (ms * 1e-3) / 1e9:.1f}")
    x = (torch.rand(side, side, generator=g) * 10 - 5).to(device)
    ms = median_ms(lambda: torch.softmax(x, dim=1), 7, 2, device)
    print(f"RESULT core_softmax_rows {ms:.4f} shape=[{side},{side}] GB/s={2 * x.numel() * 4 / (ms * 1e-3) / 1e9:.1f}")


if __name__ == "__main__":
    main()
