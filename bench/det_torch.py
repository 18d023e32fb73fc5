#!/usr/bin/env python3
"""torchvision side of bench/bench_det.sh: same inputs as bench/det_bench.cpp (the same 32-bit LCG),
same thread count. Usage: det_torch.py [--device cpu|cuda] THREADS nms N | roi_align K [H W] (the feature
map, default 256x512). Prints RESULT lines."""
import sys

import numpy as np
import torch
import torchvision

from torch_timing import device_args, median_ms


def lcg(seed, n):
    out = np.empty(n, dtype=np.float64)
    s = seed
    for i in range(n):
        s = (s * 1664525 + 1013904223) & 0xFFFFFFFF
        out[i] = (s >> 8) / float(1 << 24)
    return out, s


def make_boxes(n, seed):
    u, _ = lcg(seed, 5 * n)
    u = u.reshape(n, 5)
    x, y = u[:, 0] * 1900, u[:, 1] * 900
    w, h = 16 + u[:, 2] * 300, 16 + u[:, 3] * 300
    boxes = np.stack([x, y, x + w, y + h], 1).astype(np.float32)
    return torch.from_numpy(boxes), torch.from_numpy(u[:, 4].astype(np.float32))


def main():
    dev = device_args()
    torch.set_num_threads(int(sys.argv[1]))
    what, n = sys.argv[2], int(sys.argv[3])
    fh, fw = (int(sys.argv[4]), int(sys.argv[5])) if len(sys.argv) > 5 else (256, 512)
    if what == "nms":
        boxes, scores = (t.to(dev) for t in make_boxes(n, 1234))
        kept = [0]

        def run():
            kept[0] = torchvision.ops.nms(boxes, scores, 0.7).numel()
        ms = median_ms(run, 7, 2, dev)
        print("RESULT nms %.4f n=%d kept=%d" % (ms, n, kept[0]))
    else:
        # Feature values: the same LCG stream (seed 99) as the C++ side, vectorised by a numpy LCG.
        numel = 256 * fh * fw
        s = np.uint64(99)
        vals = np.empty(numel, dtype=np.float32)
        # A sequential LCG in Python is too slow for 33M values; jump-ahead in blocks keeps it exact.
        a, c, m = 1664525, 1013904223, 1 << 32
        block = 1 << 16
        mult = np.empty(block, dtype=np.uint64)
        add = np.empty(block, dtype=np.uint64)
        am, cm = 1, 0
        for i in range(block):  # state_i = A_i * s0 + C_i (mod 2^32), i = 1..block
            am, cm = (am * a) % m, (cm * a + c) % m
            mult[i], add[i] = am, cm
        state = int(s)
        for start in range(0, numel, block):
            cnt = min(block, numel - start)
            st = (mult[:cnt] * np.uint64(state) + add[:cnt]) & np.uint64(0xFFFFFFFF)
            vals[start:start + cnt] = ((st >> np.uint64(8)).astype(np.float64) / float(1 << 24) - 0.5).astype(np.float32)
            state = int(st[cnt - 1])
        feat = torch.from_numpy(vals).view(1, 256, fh, fw).to(dev)
        boxes, _ = make_boxes(n, 4321)
        rois = torch.cat([torch.zeros(n, 1), boxes], 1).to(dev)
        shape = "K=%d,C=256,7x7,feat=%dx%d" % (n, fh, fw)
        with torch.no_grad():
            ms = median_ms(lambda: torchvision.ops.roi_align(feat, rois, (7, 7), 0.25, 2, False), 5, 1, dev)
        print("RESULT roi_align_fwd %.4f %s" % (ms, shape))
        f = feat.clone().requires_grad_(True)
        seed = torch.ones(n, 256, 7, 7, device=dev)

        def fb():
            f.grad = None
            torchvision.ops.roi_align(f, rois, (7, 7), 0.25, 2, False).backward(seed)
        ms = median_ms(fb, 5, 1, dev)
        print("RESULT roi_align_fwd_bwd %.4f %s" % (ms, shape))


if __name__ == "__main__":
    main()
