// RoIAlign forward/backward: one HD body each for CPU and CUDA. The geometry (bin origin and size,
// sample count) and the bilinear rule are shared by the forward and the backward, so the gradient is
// exactly the adjoint of the forward.
#include "layers/roi_align.h"

#include <cmath>

#include "autograd/node.h"
#include "layers/box_coder.h"
#include "tensor/hd.h"

namespace vps {
namespace {

// Geometry of one RoI in feature coordinates.
struct RoIGeom {
  double end_plus = 1, offset = 0, min_size = 0, scale = 1;
  int64_t out_h = 7, out_w = 7, ratio = 2;
};

template <class T>
struct Bin {
  T y0, x0, bin_h, bin_w;
  int64_t gh, gw;
};

template <class T>
HD inline Bin<T> roi_bin(const T* roi, const RoIGeom& g, int64_t ph, int64_t pw) {
  T s = T(g.scale);
  T x1 = roi[1] * s - T(g.offset), y1 = roi[2] * s - T(g.offset);
  T x2 = (roi[3] + T(g.end_plus)) * s - T(g.offset), y2 = (roi[4] + T(g.end_plus)) * s - T(g.offset);
  T rw = x2 - x1, rh = y2 - y1;
  rw = rw > T(g.min_size) ? rw : T(g.min_size);
  rh = rh > T(g.min_size) ? rh : T(g.min_size);
  Bin<T> b;
  b.bin_h = rh / T(g.out_h);
  b.bin_w = rw / T(g.out_w);
  b.gh = g.ratio > 0 ? g.ratio : int64_t(::ceil(rh / T(g.out_h)));
  b.gw = g.ratio > 0 ? g.ratio : int64_t(::ceil(rw / T(g.out_w)));
  b.y0 = y1 + T(ph) * b.bin_h;
  b.x0 = x1 + T(pw) * b.bin_w;
  return b;
}

// Bilinear weights and the four corner offsets of a sample at (y, x); false outside [-1,H] x [-1,W].
template <class T>
HD inline bool bilinear(T y, T x, int64_t h, int64_t w, T* wt, int64_t* idx) {
  if (y < T(-1) || y > T(h) || x < T(-1) || x > T(w)) return false;
  if (y <= T(0)) y = T(0);
  if (x <= T(0)) x = T(0);
  int64_t yl = int64_t(y), xl = int64_t(x), yh, xh;
  if (yl >= h - 1) {
    yh = yl = h - 1;
    y = T(yl);
  } else {
    yh = yl + 1;
  }
  if (xl >= w - 1) {
    xh = xl = w - 1;
    x = T(xl);
  } else {
    xh = xl + 1;
  }
  T ly = y - T(yl), lx = x - T(xl), hy = T(1) - ly, hx = T(1) - lx;
  wt[0] = hy * hx;
  wt[1] = hy * lx;
  wt[2] = ly * hx;
  wt[3] = ly * lx;
  idx[0] = yl * w + xl;
  idx[1] = yl * w + xh;
  idx[2] = yh * w + xl;
  idx[3] = yh * w + xh;
  return true;
}

// Channels handled by one kernel call, forward and backward: one on CUDA (one thread per output
// element); 8 on CPU, where one call sweeps a bin for 8 channel planes (the forward measured best of
// 256/32/8/4/2 at FPN sizes: fewer planes per call keeps them in cache, more reuses the bin geometry
// and bilinear weights).
inline int64_t channel_chunk(Device d, int64_t c) { return d.is_cuda() ? 1 : (c < 8 ? (c > 0 ? c : 1) : 8); }

RoIGeom make_geom(const RoIAlignOptions& o) {
  RoIGeom g;
  bool mm = o.mode == RoIAlignOptions::kMMDetV1;
  g.end_plus = mm ? 1 : 0;
  g.offset = (!mm && o.aligned) ? 0.5 : 0;
  g.min_size = (!mm && !o.aligned) ? 1 : 0;
  g.scale = o.spatial_scale;
  g.out_h = o.out_h;
  g.out_w = o.out_w;
  g.ratio = o.sampling_ratio;
  return g;
}

// Backward of the bins (k, ph, pw) for channels [c0, c1): scatters grad_out into the features.
// `exclusive`: the caller guarantees no other concurrent call writes these channels (plain adds);
// otherwise atomic_add.
template <class T>
struct BackwardBin {
  const T* go;  // grad_out (K,C,PH,PW)
  const T* r;   // rois (K,5)
  T* out;       // grad_features (N,C,H,W), zero-initialised
  RoIGeom q;
  int64_t c, h, w;
  HD void operator()(int64_t k, int64_t ph, int64_t pw, int64_t c0, int64_t c1, bool exclusive) const {
    const T* roi = r + k * 5;
    Bin<T> b = roi_bin(roi, q, ph, pw);
    int64_t cnt = b.gh * b.gw > 0 ? b.gh * b.gw : 1;
    int64_t plane = h * w, pstride = q.out_h * q.out_w;
    const T* gbase = go + (k * c * q.out_h + ph) * q.out_w + pw;  // grad_out[k, ch, ph, pw] = gbase[ch * pstride]
    T* fbase = out + int64_t(roi[0]) * c * plane;
    for (int64_t iy = 0; iy < b.gh; ++iy) {
      T y = b.y0 + (T(iy) + T(0.5)) * b.bin_h / T(b.gh);
      for (int64_t ix = 0; ix < b.gw; ++ix) {
        T x = b.x0 + (T(ix) + T(0.5)) * b.bin_w / T(b.gw);
        T wt[4];
        int64_t idx[4];
        if (!bilinear(y, x, h, w, wt, idx)) continue;
        for (int64_t ch = c0; ch < c1; ++ch) {
          T gval = gbase[ch * pstride] / T(cnt);
          T* pl = fbase + ch * plane;
          for (int t = 0; t < 4; ++t) {
            if (exclusive)
              pl[idx[t]] += gval * wt[t];
            else
              atomic_add(pl + idx[t], gval * wt[t]);
          }
        }
      }
    }
  }
};

// CPU: one task per block of channel planes sweeps every bin once for its block, so the bin geometry
// and bilinear weights are computed once per block, not once per channel. Each plane still receives
// its adds in the same order (RoI, bin, sample) whatever the blocks, so the bits do not depend on them.
template <class T>
void backward_cpu(const BackwardBin<T>& body, int64_t k, int64_t chunk) {
  int64_t c = body.c, ow = body.q.out_w, bins = body.q.out_h * ow, blocks = (c + chunk - 1) / chunk;
#pragma omp parallel for schedule(dynamic, 1) if (k * c * bins >= kParallelGrain && blocks > 1)
  for (int64_t blk = 0; blk < blocks; ++blk) {
    int64_t c0 = blk * chunk, c1 = c0 + chunk < c ? c0 + chunk : c;
    for (int64_t kk = 0; kk < k; ++kk)
      for (int64_t bin = 0; bin < bins; ++bin) body(kk, bin / ow, bin % ow, c0, c1, true);
  }
}

// grad_out (K,C,PH,PW) -> grad_features (N,C,H,W). CUDA: one call per output element, atomic adds.
// CPU: one task per block of channel planes over all bins, so adds need no atomics.
Tensor roi_align_backward_raw(const Tensor& grad_out_in, const Tensor& rois, const Shape& fshape, const RoIGeom& g) {
  Tensor grad_out = grad_out_in.contiguous();
  Tensor gf = Tensor::zeros(fshape, grad_out.dtype(), grad_out.device());
  int64_t c = fshape[1], k = rois.size(0), bins = g.out_h * g.out_w;
  VPS_DISPATCH_FLOAT(gf.dtype(), "roi_align_backward", [&] {
    using T = scalar_t;
    BackwardBin<T> body{grad_out.data<T>(), rois.data<T>(), gf.data<T>(), g, c, fshape[2], fshape[3]};
    if (gf.device().is_cuda()) {
      parallel_for(gf.device(), k * c * bins, VPS_KERNEL((int64_t i) {
        int64_t bin = i % bins, ch = (i / bins) % c, kk = i / (bins * c);
        body(kk, bin / body.q.out_w, bin % body.q.out_w, ch, ch + 1, false);
      }));
      return;
    }
    backward_cpu(body, k, channel_chunk(gf.device(), c));
  });
  return gf;
}

struct RoIAlignBackward : autograd::Node {
  autograd::SavedTensor rois;
  Shape fshape;
  RoIGeom geom;
  const char* name() const override { return "RoIAlignBackward"; }
  std::vector<Tensor> backward(const std::vector<Tensor>& g) override {
    return {roi_align_backward_raw(g[0], rois.get(name()), fshape, geom), Tensor()};
  }
  void release() override { rois.reset(); }
};

}  // namespace

Tensor roi_align(const Tensor& features, const Tensor& rois_in, const RoIAlignOptions& opt) {
  VPS_CHECK(features.defined() && features.dim() == 4, "roi_align: features must be (N,C,H,W), got ",
            features.defined() ? shape_str(features.shape()) : "undefined");
  check_boxes("roi_align", "rois", rois_in, true);
  VPS_CHECK(rois_in.size(1) == 5, "roi_align: rois must be (K,5) = (batch, x1, y1, x2, y2), got ",
            shape_str(rois_in.shape()), " for features ", shape_str(features.shape()));
  VPS_CHECK(features.dtype() == rois_in.dtype() && features.device() == rois_in.device(),
            "roi_align: features and rois must share dtype and device, got ", features.str(), " and ", rois_in.str());
  VPS_CHECK(opt.out_h > 0 && opt.out_w > 0 && opt.spatial_scale > 0, "roi_align: bad output size ", opt.out_h, "x",
            opt.out_w, " or spatial_scale ", opt.spatial_scale);
  VPS_CHECK(!(autograd::grad_enabled() && rois_in.requires_grad()),
            "roi_align: gradient w.r.t. rois is not supported (detach the rois ", shape_str(rois_in.shape()), ")");
  Tensor f = features.contiguous(), rois = rois_in.contiguous();
  int64_t n = f.size(0), c = f.size(1), h = f.size(2), w = f.size(3), k = rois.size(0);
  // Batch indices are read on the host once, so a bad index is an error, not an out-of-bounds read.
  if (k > 0) {
    Tensor bi = rois.select(1, 0).cpu().to(DType::f64).contiguous();
    const double* p = bi.data<double>();
    for (int64_t i = 0; i < k; ++i)
      VPS_CHECK(p[i] >= 0 && p[i] < double(n) && p[i] == ::floor(p[i]), "roi_align: roi ", i, " has batch index ",
                p[i], " outside [0, ", n, ") for features ", shape_str(f.shape()));
  }
  RoIGeom g = make_geom(opt);
  Tensor out = Tensor::empty({k, c, opt.out_h, opt.out_w}, f.dtype(), f.device());
  VPS_DISPATCH_FLOAT(f.dtype(), "roi_align", [&] {
    using T = scalar_t;
    const T* fd = f.data<T>();
    const T* r = rois.data<T>();
    T* o = out.data<T>();
    RoIGeom q = g;
    int64_t chunk = channel_chunk(out.device(), c), groups = (c + chunk - 1) / chunk;
    parallel_for(out.device(), k * q.out_h * q.out_w * groups, VPS_KERNEL((int64_t i) {
      int64_t pw = i % q.out_w, ph = (i / q.out_w) % q.out_h, grp = (i / (q.out_w * q.out_h)) % groups;
      int64_t kk = i / (q.out_w * q.out_h * groups);
      int64_t c0 = grp * chunk, c1 = c0 + chunk < c ? c0 + chunk : c;
      const T* roi = r + kk * 5;
      Bin<T> b = roi_bin(roi, q, ph, pw);
      int64_t cnt = b.gh * b.gw > 0 ? b.gh * b.gw : 1;
      int64_t plane = h * w, pstride = q.out_h * q.out_w;
      T* obase = o + (kk * c * q.out_h + ph) * q.out_w + pw;  // out[kk, ch, ph, pw] = obase[ch * pstride]
      const T* fbase = fd + int64_t(roi[0]) * c * plane;
      for (int64_t ch = c0; ch < c1; ++ch) obase[ch * pstride] = T(0);
      // Samples outer, channels inner: the bilinear weights are computed once per bin and channel group.
      for (int64_t iy = 0; iy < b.gh; ++iy) {
        T y = b.y0 + (T(iy) + T(0.5)) * b.bin_h / T(b.gh);
        for (int64_t ix = 0; ix < b.gw; ++ix) {
          T x = b.x0 + (T(ix) + T(0.5)) * b.bin_w / T(b.gw);
          T wt[4];
          int64_t idx[4];
          if (!bilinear(y, x, h, w, wt, idx)) continue;
          for (int64_t ch = c0; ch < c1; ++ch) {
            const T* pl = fbase + ch * plane;
            obase[ch * pstride] += wt[0] * pl[idx[0]] + wt[1] * pl[idx[1]] + wt[2] * pl[idx[2]] + wt[3] * pl[idx[3]];
          }
        }
      }
      for (int64_t ch = c0; ch < c1; ++ch) obase[ch * pstride] /= T(cnt);
    }));
  });
  if (autograd::needs_grad({features})) {
    auto node = std::make_shared<RoIAlignBackward>();
    node->rois = rois;
    node->fshape = f.shape();
    node->geom = g;
    autograd::record(node, {features, rois_in}, {out});
  }
  return out;
}

Tensor map_roi_levels(const Tensor& rois_in, int64_t num_levels, double finest_scale) {
  check_boxes("map_roi_levels", "rois", rois_in, true);
  VPS_CHECK(num_levels > 0 && finest_scale > 0, "map_roi_levels: bad num_levels ", num_levels, " or finest_scale ",
            finest_scale);
  Tensor rois = rois_in.contiguous();
  int64_t k = rois.size(0), cols = rois.size(1), first = cols - 4;
  Tensor lv = Tensor::empty({k}, DType::i64, rois.device());
  VPS_DISPATCH_FLOAT(rois.dtype(), "map_roi_levels", [&] {
    using T = scalar_t;
    const T* r = rois.data<T>();
    int64_t* o = lv.data<int64_t>();
    parallel_for(lv.device(), k, VPS_KERNEL((int64_t i) {
      const T* b = r + i * cols + first;
      T scale = T(::sqrt((b[2] - b[0] + T(1)) * (b[3] - b[1] + T(1))));
      T l = T(::floor(::log2(scale / T(finest_scale) + T(1e-6))));
      int64_t li = l < T(0) ? 0 : (l > T(num_levels - 1) ? num_levels - 1 : int64_t(l));
      o[i] = li;
    }));
  });
  return lv;
}

}  // namespace vps
