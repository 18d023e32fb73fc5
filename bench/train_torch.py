#!/usr/bin/env python3
"""PyTorch side of bench_train.sh: one VPSNet-Track training step on a pair of HxW frames built from
torchvision ops, random init: maskrcnn_resnet50_fpn (9 classes, frozen BN and conv1/layer1 as VPSNet)
in train mode on the target frame with G GT instances (RPN, box and mask losses, its own 512-RoI
sampler); the reference frame through the same backbone + FPN (with grad, as VPSNet); the track head
(two FCs on 7x7 RoI features) matching 512 RoIs of the target (jittered GT boxes: torchvision keeps its
sampled RoIs internal) against the reference GT RoIs, cross entropy; the UPSNet semantic head (3 x
[deform_conv2d + GN + ReLU] over P2..P5) with its cross entropy at full resolution; a panoptic cross
entropy at 1/4 resolution over 11 stuff + G instance channels; backward; SGD (momentum 0.9, weight
decay 1e-4, clip 35). Differences to VPSNet's exact losses change the time little (the backbone and
heads dominate).
--model tiny builds the demo's tiny model instead (configs/vpsnet_track_demo.json: a ResNet-18 layout
of base width 8 with frozen BN, FPN 16 channels, anchors 16-256 px, 64 sampled anchors and RoIs, a
64-wide box head, a 32-channel mask head, the semantic tower 16 -> 16 -> 8 -> 8 with GN(4), a
32-wide track head).
usage: train_torch.py [--device cpu|cuda] [--tf32 0|1] [--model r50|tiny] THREADS H W G [REPS]   prints
"RESULT train_step ms pair" like vps_bench (on a GPU: the inputs live there, the step is timed after torch.cuda.synchronize, and
the peak GPU memory is printed)."""
import resource
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from torchvision.models.detection import MaskRCNN
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.backbone_utils import BackboneWithFPN, resnet_fpn_backbone
from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
from torchvision.models.detection.mask_rcnn import MaskRCNNHeads, MaskRCNNPredictor
from torchvision.models.detection.rpn import RPNHead
from torchvision.models.resnet import BasicBlock
from torchvision.ops import FrozenBatchNorm2d, MultiScaleRoIAlign
from torchvision.ops.feature_pyramid_network import LastLevelMaxPool

from torch_timing import device_args, print_peak_gpu_mb, sync
from vpsnet_torch import Semantic


class TinyResNet(nn.Module):  # ResNet-18's layout at base width 8 (vps's ResNet depth 18, base_width 8)
    def __init__(self, width=8):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, width, 7, 2, 3, bias=False), FrozenBatchNorm2d(width), nn.ReLU(),
                                  nn.MaxPool2d(3, 2, 1))
        layers, cin = [], width
        for i in range(4):
            cout, stride = width << i, 1 if i == 0 else 2
            down = None if stride == 1 and cin == cout else nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, bias=False), FrozenBatchNorm2d(cout))
            layers.append(nn.Sequential(BasicBlock(cin, cout, stride, down, norm_layer=FrozenBatchNorm2d),
                                        BasicBlock(cout, cout, norm_layer=FrozenBatchNorm2d)))
            cin = cout
        self.layer1, self.layer2, self.layer3, self.layer4 = layers

    def forward(self, x):
        return self.layer4(self.layer3(self.layer2(self.layer1(self.stem(x)))))


def build(model, H, W):
    """(detector, semantic head, track FCs, sampled RoIs) of the R50 or the tiny model."""
    if model == "tiny":
        backbone = BackboneWithFPN(TinyResNet(), {"layer1": "0", "layer2": "1", "layer3": "2", "layer4": "3"},
                                   [8, 16, 32, 64], 16, extra_blocks=LastLevelMaxPool())
        anchors = AnchorGenerator(((16,), (32,), (64,), (128,), (256,)), ((0.5, 1.0, 2.0),) * 5)
        levels = ["0", "1", "2", "3"]
        det = MaskRCNN(backbone, num_classes=None, min_size=H, max_size=W, rpn_anchor_generator=anchors,
                       rpn_head=RPNHead(16, 3), rpn_pre_nms_top_n_train=500, rpn_post_nms_top_n_train=300,
                       rpn_batch_size_per_image=64, box_roi_pool=MultiScaleRoIAlign(levels, 7, 2),
                       box_head=TwoMLPHead(16 * 49, 64), box_predictor=FastRCNNPredictor(64, 9),
                       box_batch_size_per_image=64, mask_roi_pool=MultiScaleRoIAlign(levels, 14, 2),
                       mask_head=MaskRCNNHeads(16, (32, 32), 1), mask_predictor=MaskRCNNPredictor(32, 32, 9))
        fcs = nn.Sequential(nn.Flatten(), nn.Linear(16 * 49, 32), nn.ReLU(), nn.Linear(32, 32))
        return det, Semantic(16, 8, 4), fcs, 64
    if model != "r50":
        sys.exit(f"train_torch.py: --model must be r50 or tiny, got {model}")
    # torchvision's maskrcnn_resnet50_fpn without weights trains every layer with live BatchNorm: build
    # it from the backbone instead, with VPSNet's frozen BN and frozen conv1 + layer1
    backbone = resnet_fpn_backbone(backbone_name="resnet50", weights=None, norm_layer=FrozenBatchNorm2d,
                                   trainable_layers=3)
    det = MaskRCNN(backbone, num_classes=9, min_size=H, max_size=W)
    fcs = nn.Sequential(nn.Flatten(), nn.Linear(256 * 49, 1024), nn.ReLU(), nn.Linear(1024, 1024))
    return det, Semantic(), fcs, 512


def main():
    dev = device_args()
    model = "r50"
    if "--model" in sys.argv:
        i = sys.argv.index("--model")
        model = sys.argv[i + 1]
        del sys.argv[i:i + 2]
    torch.set_num_threads(int(sys.argv[1]))
    H, W, G = int(sys.argv[2]), int(sys.argv[3]), max(1, int(sys.argv[4]))
    reps = int(sys.argv[5]) if len(sys.argv) > 5 else 2
    torch.manual_seed(3)
    det, sem, fcs, R = build(model, H, W)
    det.train().to(dev)
    sem.train().to(dev)
    fcs.train().to(dev)
    pool = MultiScaleRoIAlign(["0", "1", "2", "3"], 7, 2)
    params = [p for m in (det, sem, fcs) for p in m.parameters() if p.requires_grad]
    opt = torch.optim.SGD(params, lr=1e-4, momentum=0.9, weight_decay=1e-4)
    g = torch.Generator().manual_seed(5)
    img, ref = torch.randn(3, H, W, generator=g), torch.randn(3, H, W, generator=g)
    s = min(H, W) / 512  # boxes of 40-100 px at 512 rows, smaller on smaller frames
    x0 = torch.rand(G, generator=g) * (W - 120 * s)
    y0 = torch.rand(G, generator=g) * (H - 120 * s)
    boxes = torch.stack([x0, y0, x0 + s * (40 + 60 * torch.rand(G, generator=g)),
                         y0 + s * (40 + 60 * torch.rand(G, generator=g))], 1)
    masks = torch.zeros(G, H, W, dtype=torch.uint8)
    for i, b in enumerate(boxes.round().long()):
        masks[i, b[1]:b[3], b[0]:b[2]] = 1
    labels = torch.randint(1, 9, (G,), generator=g)
    targets = [{"boxes": boxes.to(dev), "labels": labels.to(dev), "masks": masks.to(dev)}]
    semantic = torch.randint(0, 19, (1, H, W), generator=g).to(dev)
    pano = torch.randint(0, 11 + G, (1, H // 4, W // 4), generator=g).to(dev)
    img, ref, gt_boxes = img.to(dev), ref.to(dev), boxes.to(dev)
    times = []
    for r in range(reps + 1):
        sync(dev)
        t0 = time.perf_counter()
        opt.zero_grad()
        losses = det([img], targets)  # rpn + box + mask losses; the transform normalises and pads
        images, _ = det.transform([ref])
        feats = det.backbone(det.transform([img])[0].tensors)
        ref_feats = det.backbone(images.tensors)
        sizes = [(H, W)]
        rois = gt_boxes.repeat(R // G + 1, 1)[:R] + (torch.randn(R, 4, generator=g) * 4 * s).to(dev)
        x = fcs(pool(feats, [rois], sizes))
        rx = fcs(pool(ref_feats, [gt_boxes], sizes))
        match = torch.cat([torch.zeros(R, 1, device=dev), x @ rx.t()], 1)
        loss_match = F.cross_entropy(match, torch.randint(0, G + 1, (R,), generator=g).to(dev))
        fcn_out = sem([feats[k] for k in ["0", "1", "2", "3"]])
        loss_segm = F.cross_entropy(fcn_out, semantic, ignore_index=255)
        score = F.interpolate(fcn_out, size=(H // 4, W // 4), mode="bilinear", align_corners=False)
        inst = score[:, 11:12].expand(1, G, H // 4, W // 4)
        loss_pano = F.cross_entropy(torch.cat([score[:, :11], inst], 1), pano)
        total = sum(losses.values()) + loss_match + loss_segm + 0.5 * loss_pano
        total.backward()
        torch.nn.utils.clip_grad_norm_(params, 35.0)
        opt.step()
        sync(dev)
        if r > 0:
            times.append(time.perf_counter() - t0)
    times.sort()
    print(f"RESULT train_step {1000 * times[len(times) // 2]:.3f} pair")
    print(f"RESULT train_peak_rss_mb {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.1f} process")
    print_peak_gpu_mb(dev, "train", "process")


if __name__ == "__main__":
    main()
