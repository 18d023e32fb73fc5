#!/usr/bin/env python3
"""torchvision side of bench/bench_resnet.sh: resnet50 trunk (conv1 .. layer4, as our C2..C5) forward,
eval mode, batch 1, torch.no_grad, same thread count. Usage: resnet_torch.py THREADS H W. Prints RESULT."""
import sys
import time

import torch
import torchvision


def time_ms(f, reps, warmup):
    for _ in range(warmup):
        f()
    t = []
    for _ in range(reps):
        a = time.perf_counter()
        f()
        t.append((time.perf_counter() - a) * 1e3)
    return sorted(t)[len(t) // 2]


def main():
    threads, h, w = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    torch.set_num_threads(threads)
    m = torchvision.models.resnet50().eval()
    trunk = torch.nn.Sequential(m.conv1, m.bn1, m.relu, m.maxpool, m.layer1, m.layer2, m.layer3, m.layer4)
    x = torch.randn(1, 3, h, w)
    reps = 3 if h * w > 300000 else 7
    with torch.no_grad():
        ms = time_ms(lambda: trunk(x), reps, 1)
    print("RESULT resnet50 %.3f %dx%d" % (ms, h, w))


if __name__ == "__main__":
    main()
