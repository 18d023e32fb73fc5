#!/usr/bin/env python3
"""PyTorch side of bench_flownet2.sh: the spec's FlowNet2 re-implementation
(tests/fixtures/flownet2/make_flownet2_fixtures.py; correlation by pad-and-shift, Resample2d by
grid_sample), full width, float32, batch 1, on one 512x1024 pair, with the same weight init as
bench/flownet2_bench.cpp. usage: flownet2_torch.py THREADS [REPS] [H W]   prints "RESULT flownet2_<part> ms"."""
import os
import sys

import torch

from torch_timing import median_ms

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "flownet2"))
from make_flownet2_fixtures import FlowNet2, random_weights  # noqa: E402


def main():
    torch.set_num_threads(int(sys.argv[1]))
    reps = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    H, W = (int(sys.argv[3]), int(sys.argv[4])) if len(sys.argv) > 4 else (512, 1024)
    net = FlowNet2(1)
    random_weights(net, 14)
    g = torch.Generator().manual_seed(14)
    pair = torch.rand(1, 3, 2, H, W, generator=g) * 255
    x = pair.permute(0, 2, 1, 3, 4).flatten(1, 2) / 255
    with torch.no_grad():
        print(f"RESULT flownet2_full {median_ms(lambda: net(pair), reps, 1):.4f}", flush=True)
        print(f"RESULT flownet2_flownetc {median_ms(lambda: net.flownetc(x), reps, 1):.4f}", flush=True)


if __name__ == "__main__":
    main()
