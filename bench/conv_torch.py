#!/usr/bin/env python3
"""PyTorch side of bench_conv.sh: conv2d at ResNet-50 shapes, batch 1, float32 (cuDNN on a GPU).
usage: conv_torch.py [--device cpu|cuda] [--tf32 0|1] THREADS [REPS=10]
prints "RESULT conv_<case>_<pass> ms" lines like vps_bench."""
import sys

import torch

from torch_timing import device_args, median_ms

CASES = [("3x3_256_56", 256, 56, 256, 3, 1, 1), ("1x1_1024_14", 1024, 14, 256, 1, 1, 0),
         ("7x7s2_stem_224", 3, 224, 64, 7, 2, 3)]


def main():
    dev = device_args()
    torch.set_num_threads(int(sys.argv[1]))
    reps = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    warm = 2 if reps > 1 else 1
    torch.manual_seed(7)
    F = torch.nn.functional
    for name, C, H, O, k, s, p in CASES:
        x, w, b = (t.to(dev) for t in (torch.randn(1, C, H, H), torch.randn(O, C, k, k), torch.randn(O)))
        with torch.no_grad():
            print(f"RESULT conv_{name}_fwd {median_ms(lambda: F.conv2d(x, w, b, s, p), reps, warm, dev):.4f}", flush=True)
        xg, wg, bg = (t.clone().requires_grad_() for t in (x, w, b))
        gy = torch.randn_like(F.conv2d(x, w, b, s, p))

        def fwd_bwd():
            for t in (xg, wg, bg):
                t.grad = None
            F.conv2d(xg, wg, bg, s, p).backward(gy)
        print(f"RESULT conv_{name}_fwdbwd {median_ms(fwd_bwd, reps, warm, dev):.4f}", flush=True)


if __name__ == "__main__":
    main()
