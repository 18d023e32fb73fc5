#!/usr/bin/env python3
"""torch/torchvision side of bench/bench_heads.sh: the same pipeline as bench/heads_bench.cpp (same
shapes and settings, its own random values), inference under no_grad, same thread count.
RPN head and box/mask heads from torch.nn; proposals as mmdet v1 get_bboxes_single with
torchvision.ops.nms (boxes shifted by +1 for the legacy areas); RoI extraction with the mmdet level
map and torchvision.ops.roi_align per level; MaskROI selection in torch ops.
Usage: heads_torch.py THREADS [H W] (default 1024 2048). Prints RESULT lines."""
import math
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

from torch_timing import median_ms


def nms_legacy(boxes, scores, thr):
    b = boxes.clone()
    b[:, 2:] += 1
    return torchvision.ops.nms(b, scores, thr)


def delta2bbox(rois, d, h, w, stds=(1.0, 1.0, 1.0, 1.0), clamp_below=True):
    d = d.view(d.shape[0], -1, 4) * torch.tensor(stds)
    mr = abs(math.log(16 / 1000))
    dw = d[..., 2].clamp(-mr, mr) if clamp_below else d[..., 2].clamp(max=mr)
    dh = d[..., 3].clamp(-mr, mr) if clamp_below else d[..., 3].clamp(max=mr)
    px, py = ((rois[:, 0] + rois[:, 2]) * 0.5)[:, None], ((rois[:, 1] + rois[:, 3]) * 0.5)[:, None]
    pw, ph = (rois[:, 2] - rois[:, 0] + 1)[:, None], (rois[:, 3] - rois[:, 1] + 1)[:, None]
    gw, gh, gx, gy = pw * dw.exp(), ph * dh.exp(), px + pw * d[..., 0], py + ph * d[..., 1]
    out = torch.stack([gx - gw * 0.5 + 0.5, gy - gh * 0.5 + 0.5, gx + gw * 0.5 - 0.5, gy + gh * 0.5 - 0.5], -1)
    out[..., 0::2] = out[..., 0::2].clamp(0, w - 1)
    out[..., 1::2] = out[..., 1::2].clamp(0, h - 1)
    return out.view(d.shape[0], -1)


def anchors(stride, h, w):
    hr = torch.sqrt(torch.tensor([0.5, 1.0, 2.0]))
    ws, hs = stride / hr * 8, stride * hr * 8
    c = 0.5 * (stride - 1)
    base = torch.stack([c - 0.5 * (ws - 1), c - 0.5 * (hs - 1), c + 0.5 * (ws - 1), c + 0.5 * (hs - 1)], -1).round()
    ys, xs = torch.meshgrid(torch.arange(h) * stride, torch.arange(w) * stride, indexing="ij")
    shifts = torch.stack([xs.reshape(-1), ys.reshape(-1)] * 2, 1).float()
    return (base[None] + shifts[:, None]).reshape(-1, 4)


def main():
    torch.set_num_threads(int(sys.argv[1]))
    H, W = (int(sys.argv[2]), int(sys.argv[3])) if len(sys.argv) > 3 else (1024, 2048)
    torch.manual_seed(7)
    strides = [4, 8, 16, 32, 64]
    feats = [torch.randn(1, 256, H // s, W // s) for s in strides]
    rpn_conv, rpn_cls, rpn_reg = nn.Conv2d(256, 256, 3, padding=1), nn.Conv2d(256, 3, 1), nn.Conv2d(256, 12, 1)
    fc0, fc1, fc_cls, fc_reg = nn.Linear(12544, 1024), nn.Linear(1024, 1024), nn.Linear(1024, 9), nn.Linear(1024, 36)
    convs = [nn.Conv2d(256, 256, 3, padding=1) for _ in range(4)]
    up, logits = nn.ConvTranspose2d(256, 256, 2, stride=2), nn.Conv2d(256, 9, 1)
    for m in [rpn_conv, rpn_cls, rpn_reg, fc0, fc1, fc_cls, fc_reg, up, logits] + convs:
        nn.init.normal_(m.weight, 0, 0.01)
        nn.init.zeros_(m.bias)
    anc = [anchors(s, f.shape[2], f.shape[3]) for s, f in zip(strides, feats)]
    st = {}

    def rpn_head():
        st["out"] = []
        for f in feats:
            x = F.relu(rpn_conv(f))
            st["out"].append((rpn_cls(x), rpn_reg(x)))

    def proposals():
        levels = []
        for (c, r), a in zip(st["out"], anc):
            s = c[0].permute(1, 2, 0).reshape(-1).sigmoid()
            d = r[0].permute(1, 2, 0).reshape(-1, 4)
            aa = a
            if s.numel() > 1000:
                s, i = s.topk(1000)
                d, aa = d[i], a[i]
            b = delta2bbox(aa, d, H, W)
            k = nms_legacy(b, s, 0.7)[:1000]
            levels.append(torch.cat([b[k], s[k, None]], 1))
        p = torch.cat(levels)
        p = p[p[:, 4].topk(min(1000, p.shape[0]))[1]]
        st["rois"] = torch.cat([torch.zeros(p.shape[0], 1), p[:, :4]], 1)

    def extract(rois, size):
        r = rois[:, 1:]
        scale = torch.sqrt((r[:, 2] - r[:, 0] + 1) * (r[:, 3] - r[:, 1] + 1))
        lvl = torch.floor(torch.log2(scale / 56 + 1e-6)).clamp(0, 3).long()
        out = rois.new_zeros(rois.shape[0], 256, size, size)
        for l in range(4):
            i = (lvl == l).nonzero().view(-1)
            if i.numel():
                rr = rois[i].clone()
                rr[:, 3:] += 1
                out[i] = torchvision.ops.roi_align(feats[l], rr, (size, size), 1.0 / strides[l], 2, False)
        return out

    def bbox_head():
        x = F.relu(fc1(F.relu(fc0(st["roi7"].flatten(1)))))
        st["cls"], st["reg"] = fc_cls(x), fc_reg(x)

    def select():
        rois, prob = st["rois"], F.softmax(st["cls"], 1)
        boxes = delta2bbox(rois[:, 1:], st["reg"], H, W, (0.1, 0.1, 0.2, 0.2), False).view(-1, 9, 4)[:, 1:]
        sc = prob[:, 1:]
        m = sc > 0.05
        b, s, lab = boxes[m], sc[m], m.nonzero()[:, 1] + 1
        k = nms_legacy(b, s, 0.5)
        if k.numel() > 100:
            k = k[s[k] >= s[k].sort()[0][-100]]
        st["det"] = (b[k], s[k], lab[k])

    def mask_head():
        x = st["roi14"]
        for c in convs:
            x = F.relu(c(x))
        logits(F.relu(up(x)))

    with torch.no_grad():
        t = {"rpn_head": median_ms(rpn_head, 3, 1), "proposals": median_ms(proposals, 3, 1)}
        t["roi_extract_7x7"] = median_ms(lambda: st.__setitem__("roi7", extract(st["rois"], 7)), 3, 1)
        t["bbox_head"] = median_ms(bbox_head, 3, 1)
        t["mask_roi_select"] = median_ms(select, 3, 1)
        t["roi_extract_14x14"] = median_ms(lambda: st.__setitem__("roi14", extract(st["rois"][:100], 14)), 3, 1)
        t["mask_head"] = median_ms(mask_head, 3, 1)
    t["total"] = sum(t.values())
    for k, v in t.items():
        print("RESULT %s %.4f" % (k, v))


if __name__ == "__main__":
    main()
