#!/usr/bin/env python3
"""PyTorch side of bench_flow_ops.sh, the same cases as bench/flow_ops_bench.cpp (batch 1, float32, CPU):
FlowNetC's correlation as the pad-and-shift formulation of the spec (A.3.1: 441 shifted products
reduced over the channels), and resample2d as grid_sample(border, align_corners=True) with the grid
built from the flow (part of the op: its input is the flow).
usage: flow_ops_torch.py THREADS [REPS]   prints "RESULT flow_ops_<case>_<pass> ms" lines like vps_bench."""
import sys

import torch
import torch.nn.functional as F

from torch_timing import median_ms


def correlation(f1, f2, pad=20, md=20, s2=2):
    _, C, H, W = f1.shape
    f2p = F.pad(f2, (pad,) * 4)
    R = md // s2
    outs = [(f1 * f2p[:, :, pad + s2 * tj:pad + s2 * tj + H, pad + s2 * ti:pad + s2 * ti + W]).sum(1) / C
            for tj in range(-R, R + 1) for ti in range(-R, R + 1)]
    return torch.stack(outs, 1)


def resample2d(img, flow):
    _, _, H, W = img.shape
    ys, xs = torch.meshgrid(torch.arange(flow.shape[2], dtype=flow.dtype), torch.arange(flow.shape[3], dtype=flow.dtype),
                            indexing="ij")
    grid = torch.stack([2 * (xs + flow[:, 0]) / (W - 1) - 1, 2 * (ys + flow[:, 1]) / (H - 1) - 1], -1)
    return F.grid_sample(img, grid, mode="bilinear", padding_mode="border", align_corners=True)


def time_pair(name, a, b, gy, f, reps):
    with torch.no_grad():
        print(f"RESULT {name}_fwd {median_ms(lambda: f(a, b), reps, 1):.4f}", flush=True)
    ag, bg = a.clone().requires_grad_(), b.clone().requires_grad_()

    def fwd_bwd():
        ag.grad = bg.grad = None
        f(ag, bg).backward(gy)
    print(f"RESULT {name}_fwdbwd {median_ms(fwd_bwd, reps, 1):.4f}", flush=True)


def main():
    torch.set_num_threads(int(sys.argv[1]))
    reps = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    torch.manual_seed(11)
    f1, f2, gy = torch.randn(1, 256, 64, 128), torch.randn(1, 256, 64, 128), torch.randn(1, 441, 64, 128)
    time_pair("flow_ops_corr_flownet2", f1, f2, gy, correlation, reps)
    for name, C, H, W in [("resample_c3_512x1024", 3, 512, 1024), ("resample_c19_128x256", 19, 128, 256)]:
        img, flow = torch.randn(1, C, H, W), torch.rand(1, 2, H, W) * 16 - 8
        time_pair(f"flow_ops_{name}", img, flow, torch.randn(1, C, H, W), resample2d, reps)


if __name__ == "__main__":
    main()
