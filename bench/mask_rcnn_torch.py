#!/usr/bin/env python3
"""torchvision side of bench/bench_mask_rcnn.sh: maskrcnn (ResNet-50-FPN, 9 classes, random init, stem +
layer1 frozen, FrozenBatchNorm2d as mmdet's norm_eval) training step: forward with targets + backward of
the summed losses, batch 1, no resizing (min/max size = the image), same thread count.
Usage: mask_rcnn_torch.py THREADS H W. Prints RESULT."""
import sys
import time

import torch
from torchvision.models.detection import MaskRCNN
from torchvision.models.detection.backbone_utils import resnet_fpn_backbone
from torchvision.ops.misc import FrozenBatchNorm2d


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
    torch.manual_seed(0)
    backbone = resnet_fpn_backbone(backbone_name="resnet50", weights=None, norm_layer=FrozenBatchNorm2d,
                                   trainable_layers=3)
    model = MaskRCNN(backbone, num_classes=9, min_size=h, max_size=w, image_mean=[0.0, 0.0, 0.0],
                     image_std=[1.0, 1.0, 1.0]).train()
    frac = [[0.05, 0.1, 0.3, 0.5], [0.4, 0.2, 0.55, 0.9], [0.6, 0.05, 0.95, 0.35], [0.1, 0.6, 0.35, 0.95],
            [0.7, 0.5, 0.9, 0.8]]
    boxes = torch.tensor([[int(f[0] * w), int(f[1] * h), int(f[2] * w), int(f[3] * h)] for f in frac], dtype=torch.float32)
    masks = torch.zeros(5, h, w, dtype=torch.uint8)
    for k, b in enumerate(boxes.long().tolist()):
        masks[k, b[1]:b[3] + 1, b[0]:b[2] + 1] = 1
    target = {"boxes": boxes, "labels": torch.arange(1, 6), "masks": masks}
    img = torch.randn(3, h, w)

    def step():
        model.zero_grad()
        losses = model([img], [target])
        sum(losses.values()).backward()

    print("RESULT mask_rcnn_train %.3f %dx%d" % (time_ms(step, 3, 1), h, w))


if __name__ == "__main__":
    main()
