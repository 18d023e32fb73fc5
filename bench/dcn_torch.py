#!/usr/bin/env python3
"""PyTorch side of bench_dcn.sh: torchvision.ops.deform_conv2d (its CPU or CUDA kernel) and F.conv2d at
the semantic head's P2 shapes, batch 1, float32, offsets uniform +-2.
usage: dcn_torch.py [--device cpu|cuda] [--tf32 0|1] THREADS [REPS] [H W]
prints "RESULT dcn_<case>_<pass> ms" lines like vps_bench; H W replace the 256x512 map."""
import sys

import torch
from torchvision.ops import deform_conv2d

from torch_timing import device_args, median_ms

CASES = [("p2_256", 256, 256, 256, 512), ("p2_128", 128, 128, 256, 512)]


def main():
    dev = device_args()
    torch.set_num_threads(int(sys.argv[1]))
    reps = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    size = (int(sys.argv[3]), int(sys.argv[4])) if len(sys.argv) > 4 else None
    torch.manual_seed(11)
    F = torch.nn.functional
    for name, C, O, H, W in CASES:
        H, W = size or (H, W)
        x, w = torch.randn(1, C, H, W, device=dev), torch.randn(O, C, 3, 3, device=dev) * 0.02
        off = torch.rand(1, 18, H, W, device=dev) * 4 - 2
        gy = torch.randn(1, O, H, W, device=dev)
        with torch.no_grad():
            ms = median_ms(lambda: deform_conv2d(x, off, w, padding=(1, 1)), reps, 1, dev)
            print(f"RESULT dcn_{name}_fwd {ms:.4f}", flush=True)
        xg, og, wg = (t.clone().requires_grad_() for t in (x, off, w))

        def fwd_bwd():
            for t in (xg, og, wg):
                t.grad = None
            deform_conv2d(xg, og, wg, padding=(1, 1)).backward(gy)
        print(f"RESULT dcn_{name}_fwdbwd {median_ms(fwd_bwd, reps, 1, dev):.4f}", flush=True)


if __name__ == "__main__":
    main()
