#!/usr/bin/python3
"""PyTorch side of bench/nn_cputime.sh: the same ops and shapes as `vps_bench cputime`, one thread,
median process CPU time (time.process_time) of forward and forward+backward.
Prints "CPU <op> <fwd ms> <fwdbwd ms>"."""
import time

import torch
import torch.nn.functional as F

from torch_timing import median_ms


def run(name, params, f):
    dy = torch.randn(f().shape)

    def fwd():
        with torch.no_grad():
            f()

    def fwd_bwd():
        for p in params:
            p.grad = None
        f().backward(dy)
    print(f"CPU {name} {median_ms(fwd, 7, 1, clock=time.process_time):.3f} {median_ms(fwd_bwd, 7, 1, clock=time.process_time):.3f}", flush=True)


def main():
    torch.set_num_threads(1)
    torch.manual_seed(0)
    C, H = 64, 64
    x = torch.randn(8, C, H, H, requires_grad=True)
    w, b = torch.ones(C, requires_grad=True), torch.zeros(C, requires_grad=True)
    rm, rv = torch.zeros(C), torch.ones(C)
    run("batch_norm_train", [x, w, b], lambda: F.batch_norm(x, rm, rv, w, b, training=True))
    run("batch_norm_eval", [x, w, b], lambda: F.batch_norm(x, rm, rv, w, b, training=False))
    run("group_norm", [x, w, b], lambda: F.group_norm(x, 32, w, b))
    run("max_pool2d", [x], lambda: F.max_pool2d(x, 3, 2, 1))
    run("bilinear_x2", [x], lambda: F.interpolate(x, size=(2 * H, 2 * H), mode="bilinear", align_corners=False))
    for name, Cc, Hh, O, k, s, p in [("conv_3x3_256_56", 256, 56, 256, 3, 1, 1),
                                     ("conv_1x1_1024_14", 1024, 14, 256, 1, 1, 0),
                                     ("conv_7x7s2_stem_224", 3, 224, 64, 7, 2, 3)]:
        xc = torch.randn(1, Cc, Hh, Hh, requires_grad=True)
        wc, bc = torch.randn(O, Cc, k, k, requires_grad=True), torch.randn(O, requires_grad=True)
        run(name, [xc, wc, bc], lambda: F.conv2d(xc, wc, bc, s, p))


if __name__ == "__main__":
    main()
