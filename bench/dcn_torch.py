#!/usr/bin/env python3
"""PyTorch side of bench_dcn.sh: torchvision.ops.deform_conv2d (CPU) and F.conv2d at the semantic head's
P2 shapes, batch 1, float32, offsets uniform +-2.
usage: dcn_torch.py THREADS [REPS]   prints "RESULT dcn_<case>_<pass> ms" lines like vps_bench."""
import sys

import torch
from torchvision.ops import deform_conv2d

from torch_timing import median_ms

CASES = [("p2_256", 256, 256, 256, 512), ("p2_128", 128, 128, 256, 512)]


def main():
    torch.set_num_threads(int(sys.argv[1]))
    reps = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    torch.manual_seed(11)
    F = torch.nn.functional
    for name, C, O, H, W in CASES:
        x, w = torch.randn(1, C, H, W), torch.randn(O, C, 3, 3) * 0.02
        off = torch.rand(1, 18, H, W) * 4 - 2
        gy = torch.randn(1, O, H, W)
        with torch.no_grad():
            ms = median_ms(lambda: deform_conv2d(x, off, w, padding=(1, 1)), reps, 1)
            print(f"RESULT dcn_{name}_fwd {ms:.4f}", flush=True)
        xg, og, wg = (t.clone().requires_grad_() for t in (x, off, w))

        def fwd_bwd():
            for t in (xg, og, wg):
                t.grad = None
            deform_conv2d(xg, og, wg, padding=(1, 1)).backward(gy)
        print(f"RESULT dcn_{name}_fwdbwd {median_ms(fwd_bwd, reps, 1):.4f}", flush=True)


if __name__ == "__main__":
    main()
