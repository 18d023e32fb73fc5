#!/usr/bin/env python3
"""PyTorch side of the GEMM benchmark: torch.matmul of two square f32 matrices.

usage: gemm_torch.py [--device cpu|cuda] [--tf32 0|1] THREADS [N] [cpu|cuda]; prints "RESULT gemm_torch MS n=N threads=T gflops=G"
(median of 5 calls after one warm-up, the same protocol as vps_bench).
"""
import sys

import torch

from torch_timing import device_args, median_ms


def main():
    dev = device_args()
    threads = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 2048
    dev = sys.argv[3] if len(sys.argv) > 3 else dev
    torch.set_num_threads(threads)
    g = torch.Generator().manual_seed(0)
    a = torch.randn(n, n, generator=g).to(dev)
    b = torch.randn(n, n, generator=g).to(dev)
    ms = median_ms(lambda: torch.matmul(a, b), 5, 1, dev)
    print(f"RESULT gemm_torch {ms:.4f} n={n} threads={threads} gflops={2.0 * n**3 / (ms * 1e6):.2f}")


if __name__ == "__main__":
    main()
