#!/usr/bin/env python3
"""PyTorch side of bench_vpsnet.sh: VPSNet-Track inference of one frame built from torchvision ops
(maskrcnn_resnet50_fpn with 9 classes and box_score_thresh 0, so 100 detections; the UPSNet semantic
head with torchvision's deform_conv2d; the track head's embedding and matching; the panoptic logits of
the pasted masks and their argmax), random init, an HxW N(0,1) image.
usage: vpsnet_torch.py [--device cpu|cuda] [--tf32 0|1] [--bf16] THREADS H W [REPS]   prints "RESULT
vpsnet_<stage> ms HxW" lines like vps_bench (on a GPU each clock reading waits for it, and the peak GPU memory
is printed). --bf16: the frame under torch.autocast(bfloat16) on the device; torchvision 0.14 has no CPU
bf16 kernel of deform_conv2d (it fails on mixed types), so the semantic head's DCNs take float32 inputs."""
import resource
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from torchvision.models.detection.roi_heads import paste_masks_in_image
from torchvision.ops import deform_conv2d

from torch_timing import device_args, print_peak_gpu_mb, sync


class Semantic(nn.Module):  # UPSNetFPN: a shared 3 x (DCN + GN + ReLU) tower over P2..P5, 1x1 to 19, x4
    def __init__(self, fpn=256, out=128, groups=32):  # the tower: fpn -> fpn -> out -> out
        super().__init__()
        w = [fpn, fpn, out, out]
        self.off = nn.ModuleList([nn.Conv2d(w[i], 18, 3, padding=1) for i in range(3)])
        self.dcn = nn.ParameterList([nn.Parameter(torch.randn(w[i + 1], w[i], 3, 3) * 0.02) for i in range(3)])
        self.gn = nn.ModuleList([nn.GroupNorm(groups, w[i + 1]) for i in range(3)])
        self.pred = nn.Conv2d(4 * out, 19, 1)

    def tower(self, x):
        for i in range(3):
            x = F.relu(self.gn[i](deform_conv2d(x.float(), self.off[i](x).float(), self.dcn[i], padding=(1, 1))))
        return x

    def forward(self, feats):
        outs = [self.tower(feats[0])]
        for l in range(1, 4):
            outs.append(F.interpolate(self.tower(feats[l]), scale_factor=2 ** l, mode="bilinear", align_corners=False))
        return F.interpolate(self.pred(torch.cat(outs, 1)), scale_factor=4, mode="bilinear", align_corners=False)


def float32_for_torchvision_ops():
    """torchvision 0.14 has no CPU bf16 kernel of nms and roi_align: under autocast their inputs go in
    as float32 (as our bf16 path keeps them)."""
    import torchvision.ops.boxes as box_ops
    import torchvision.ops.poolers as poolers
    nms, roi_align = box_ops.nms, poolers.roi_align
    box_ops.nms = lambda boxes, scores, iou: nms(boxes.float(), scores.float(), iou)
    poolers.roi_align = lambda x, boxes, *a, **k: roi_align(x.float(), boxes.float(), *a, **k)


def main():
    bf16 = "--bf16" in sys.argv
    sys.argv = [a for a in sys.argv if a != "--bf16"]
    if bf16:
        float32_for_torchvision_ops()
    dev = device_args()
    torch.set_num_threads(int(sys.argv[1]))
    H, W = int(sys.argv[2]), int(sys.argv[3])
    reps = int(sys.argv[4]) if len(sys.argv) > 4 else 2
    torch.manual_seed(3)
    det = torchvision.models.detection.maskrcnn_resnet50_fpn(weights=None, weights_backbone=None, num_classes=9,
                                                             box_score_thresh=0.0, min_size=H, max_size=W).eval().to(dev)
    sem = Semantic().eval().to(dev)
    fcs = nn.Sequential(nn.Flatten(), nn.Linear(256 * 49, 1024), nn.ReLU(), nn.Linear(1024, 1024)).eval().to(dev)
    img = torch.randn(3, H, W).to(dev)

    def clock():  # a reading after the GPU's queue is done
        sync(dev)
        return time.perf_counter()
    best = {}
    with torch.no_grad(), torch.autocast(torch.device(dev).type, dtype=torch.bfloat16, enabled=bf16):
        memory = None
        for r in range(reps + 1):
            t = {}
            t0 = clock()
            images, _ = det.transform([img])
            feats = det.backbone(images.tensors)
            t1 = clock()
            props, _ = det.rpn(images, feats)
            boxes = det.roi_heads(feats, props, images.image_sizes)[0][0]
            t2 = clock()
            fcn = sem([feats[k] for k in ["0", "1", "2", "3"]])
            t3 = clock()
            b = boxes["boxes"]
            x = det.roi_heads.box_roi_pool(feats, [b], images.image_sizes)
            memory = x if memory is None else memory  # VPSNet keeps raw RoI features and embeds them every frame
            emb = fcs(x)
            score = torch.cat([torch.zeros(emb.shape[0], 1, device=dev), emb @ fcs(memory).t()], 1).log_softmax(1)
            t4 = clock()
            masks = paste_masks_in_image(boxes["masks"], b, (H, W))[:, 0]  # full-resolution probabilities
            inst = torch.logit(masks.clamp(1e-6, 1 - 1e-6)) + fcn[0, 11:12].expand(masks.shape[0], -1, -1)
            logits = torch.cat([fcn[0, :11], inst], 0)
            pan = F.softmax(logits, 0).argmax(0)
            t5 = clock()
            t["backbone_fpn"] = t1 - t0
            t["rpn_box_mask"] = t2 - t1
            t["semantic_head"] = t3 - t2
            t["track"] = t4 - t3
            t["panoptic"] = t5 - t4
            t["frame"] = t5 - t0
            if r > 0:
                for k, v in t.items():
                    best[k] = min(best.get(k, 1e30), v * 1e3)
        n = boxes["boxes"].shape[0]
    for k in ["backbone_fpn", "rpn_box_mask", "semantic_head", "track", "panoptic", "frame"]:
        print(f"RESULT vpsnet_{k} {best[k]:.1f} {H}x{W}", flush=True)
    print(f"RESULT vpsnet_detections {n} {H}x{W}")
    print(f"RESULT vpsnet_peak_rss_mb {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} {H}x{W}")
    print_peak_gpu_mb(dev, "vpsnet", f"{H}x{W}")


if __name__ == "__main__":
    main()
