#!/usr/bin/env python3
"""PyTorch side of the GEMM benchmark: torch.matmul of two square f32 matrices.

usage: gemm_torch.py THREADS [N] [cpu|cuda]; prints "RESULT gemm_torch MS n=N threads=T gflops=G"
(median of 5 calls after one warm-up, the same protocol as vps_bench).
"""
import statistics
import sys
import time

import torch


def main():
    threads = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 2048
    dev = sys.argv[3] if len(sys.argv) > 3 else "cpu"
    torch.set_num_threads(threads)
    g = torch.Generator().manual_seed(0)
    a = torch.randn(n, n, generator=g).to(dev)
    b = torch.randn(n, n, generator=g).to(dev)
    sync = torch.cuda.synchronize if dev == "cuda" else (lambda: None)
    times = []
    for i in range(6):
        t0 = time.perf_counter()
        torch.matmul(a, b)
        sync()
        if i:
            times.append((time.perf_counter() - t0) * 1e3)
    ms = statistics.median(times)
    print(f"RESULT gemm_torch {ms:.4f} n={n} threads={threads} gflops={2.0 * n**3 / (ms * 1e6):.2f}")


if __name__ == "__main__":
    main()
