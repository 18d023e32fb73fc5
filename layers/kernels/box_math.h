// Host/device box arithmetic shared by the box coder, NMS and the RoI heads. Boxes are (x1, y1, x2, y2).
// `offset` is 1 for the legacy mmdetection v1 / Detectron convention (width = x2 - x1 + 1) and 0 for
// the torchvision convention (width = x2 - x1).
#pragma once
#include <cmath>

#include "tensor/hd.h"

namespace vps::box {

// Area of box a[0..3].
template <class T>
HD inline T area(const T* a, T offset) {
  return (a[2] - a[0] + offset) * (a[3] - a[1] + offset);
}

// Intersection and union of boxes (ax1, ay1, ax2, ay2) and (bx1, ...) given their areas from area().
template <class T>
HD inline void inter_union(T ax1, T ay1, T ax2, T ay2, T area_a, T bx1, T by1, T bx2, T by2, T area_b, T offset,
                           T& inter, T& uni) {
  T left = ax1 > bx1 ? ax1 : bx1, right = ax2 < bx2 ? ax2 : bx2;
  T top = ay1 > by1 ? ay1 : by1, bottom = ay2 < by2 ? ay2 : by2;
  T w = right - left + offset, h = bottom - top + offset;
  w = w > T(0) ? w : T(0);
  h = h > T(0) ? h : T(0);
  inter = w * h;
  uni = area_a + area_b - inter;
}

// iou(a, b) > thr for boxes given as corners and areas, written without a conditional division so that
// host loops over b vectorize (same result as the comparison of iou()).
template <class T>
HD inline bool iou_above(T ax1, T ay1, T ax2, T ay2, T area_a, T bx1, T by1, T bx2, T by2, T area_b, T offset,
                         T thr) {
  T inter, uni;
  inter_union(ax1, ay1, ax2, ay2, area_a, bx1, by1, bx2, by2, area_b, offset, inter, uni);
  T q = inter / uni;
  bool pos = uni > T(0);
  return (pos & (q > thr)) | (!pos & (T(0) > thr));
}

// IoU of boxes a[0..3] and b[0..3]; 0 when the union is empty.
template <class T>
HD inline T iou(const T* a, const T* b, T offset) {
  T inter, uni;
  inter_union(a[0], a[1], a[2], a[3], area(a, offset), b[0], b[1], b[2], b[3], area(b, offset), offset, inter, uni);
  return uni > T(0) ? inter / uni : T(0);
}

struct CoderParams {
  double means[4] = {0, 0, 0, 0};
  double stds[4] = {1, 1, 1, 1};
  double max_ratio = 4.135166556742356;  // |log(16/1000)|, the dw/dh clamp of mmdetection v1
  bool clamp_below = true;               // false: dw/dh clamped from above only (UPSNet bbox_transform)
  double offset = 1;                     // +1 widths (legacy)
  double max_h = -1, max_w = -1;         // clip to [0, max_w-1] x [0, max_h-1] when > 0
};

// mmdetection v1 delta2bbox for one box: roi (4), delta (4) -> out (4).
template <class T>
HD inline void decode(const T* roi, const T* delta, const CoderParams& p, T* out) {
  T dx = delta[0] * T(p.stds[0]) + T(p.means[0]);
  T dy = delta[1] * T(p.stds[1]) + T(p.means[1]);
  T dw = delta[2] * T(p.stds[2]) + T(p.means[2]);
  T dh = delta[3] * T(p.stds[3]) + T(p.means[3]);
  T mr = T(p.max_ratio);
  if (p.clamp_below) {
    dw = dw < -mr ? -mr : dw;
    dh = dh < -mr ? -mr : dh;
  }
  dw = dw > mr ? mr : dw;
  dh = dh > mr ? mr : dh;
  T off = T(p.offset);
  T px = (roi[0] + roi[2]) * T(0.5), py = (roi[1] + roi[3]) * T(0.5);
  T pw = roi[2] - roi[0] + off, ph = roi[3] - roi[1] + off;
  T gw = pw * T(::exp(dw)), gh = ph * T(::exp(dh));
  T gx = px + pw * dx, gy = py + ph * dy;
  T half = off * T(0.5);
  T x1 = gx - gw * T(0.5) + half, y1 = gy - gh * T(0.5) + half;
  T x2 = gx + gw * T(0.5) - half, y2 = gy + gh * T(0.5) - half;
  if (p.max_w > 0) {
    T hi = T(p.max_w) - off;
    x1 = x1 < T(0) ? T(0) : (x1 > hi ? hi : x1);
    x2 = x2 < T(0) ? T(0) : (x2 > hi ? hi : x2);
  }
  if (p.max_h > 0) {
    T hi = T(p.max_h) - off;
    y1 = y1 < T(0) ? T(0) : (y1 > hi ? hi : y1);
    y2 = y2 < T(0) ? T(0) : (y2 > hi ? hi : y2);
  }
  out[0] = x1;
  out[1] = y1;
  out[2] = x2;
  out[3] = y2;
}

// mmdetection v1 bbox2delta for one pair: proposal (4), gt (4) -> normalised delta (4).
template <class T>
HD inline void encode(const T* p, const T* g, const CoderParams& c, T* out) {
  T off = T(c.offset);
  T px = (p[0] + p[2]) * T(0.5), py = (p[1] + p[3]) * T(0.5);
  T pw = p[2] - p[0] + off, ph = p[3] - p[1] + off;
  T gx = (g[0] + g[2]) * T(0.5), gy = (g[1] + g[3]) * T(0.5);
  T gw = g[2] - g[0] + off, gh = g[3] - g[1] + off;
  T d[4] = {(gx - px) / pw, (gy - py) / ph, T(::log(gw / pw)), T(::log(gh / ph))};
  for (int k = 0; k < 4; ++k) out[k] = (d[k] - T(c.means[k])) / T(c.stds[k]);
}

}  // namespace vps::box
