"""Timing shared by the PyTorch sides of the benchmarks (imported from bench/, the scripts' folder):
the median, in milliseconds, of `reps` calls of f after `warmup` calls, synchronizing CUDA work."""
import statistics
import time

import torch


def median_ms(f, reps=5, warmup=1, device="cpu", clock=time.perf_counter):
    sync = torch.cuda.synchronize if str(device).startswith("cuda") else (lambda: None)
    for _ in range(warmup):
        f()
    sync()
    times = []
    for _ in range(reps):
        start = clock()
        f()
        sync()
        times.append((clock() - start) * 1e3)
    return statistics.median(times)
