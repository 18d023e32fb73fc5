#include "models/detection/rpn_head.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>
#include <functional>
#include <numeric>

#include "autograd/grad_mode.h"
#include "layers/box_coder.h"
#include "layers/init.h"
#include "layers/nms.h"
#include "ops/ops.h"

namespace vps::models {
namespace {

std::shared_ptr<nn::Conv2d> normal_conv(int64_t in, int64_t out, int64_t k, Generator& gen) {
  auto c = std::make_shared<nn::Conv2d>(nn::ConvOptions::square(in, out, k, 1, k / 2), gen);
  nn::init::normal_(c->weight, gen, 0, 0.01);
  nn::init::constant_(c->bias, 0);
  return c;
}

Tensor index_of(const std::vector<int64_t>& idx, Device d) {
  return Tensor::from_vector<int64_t>(idx, {int64_t(idx.size())}, d);
}

std::vector<double> host_values(const Tensor& t) { return t.to(DType::f64).cpu().to_vector<double>(); }

// The kept anchors of one level: flat anchor indices k = (y*W + x)*A + a in the kept order and their
// sigmoid scores (k,) in the logits' dtype and device.
struct LevelTopK {
  std::vector<int64_t> flat;
  Tensor scores;
};

// Logits gathered at flat anchor indices `flat` from a (A,H,W) level, as (|flat|,) on its device.
Tensor gather_logits(const Tensor& logits, const std::vector<int64_t>& flat) {
  int64_t a = logits.size(0), hw = logits.size(1) * logits.size(2);
  std::vector<int64_t> src(flat.size());
  for (size_t i = 0; i < flat.size(); ++i) src[i] = (flat[i] % a) * hw + flat[i] / a;
  return index_select(logits.reshape({-1}), 0, index_of(src, logits.device()));
}

// Deltas (4A,H,W) of one image gathered at flat anchor indices -> (|flat|, 4) in the anchor order.
Tensor gather_deltas(const Tensor& deltas, const std::vector<int64_t>& flat) {
  int64_t a = deltas.size(0) / 4, hw = deltas.size(1) * deltas.size(2);
  std::vector<int64_t> src(4 * flat.size());
  for (size_t i = 0; i < flat.size(); ++i)
    for (int64_t j = 0; j < 4; ++j) src[4 * i + size_t(j)] = (4 * (flat[i] % a) + j) * hw + flat[i] / a;
  return index_select(deltas.reshape({-1}), 0, index_of(src, deltas.device())).reshape({-1, 4});
}

// Unsigned key in the order of the float value (-0 just below +0; NaN with the sign bit clear above +inf).
template <class T, class U = std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>>
U ordered_key(T v) {
  U u;
  std::memcpy(&u, &v, sizeof u);
  constexpr U sign = U(1) << (8 * sizeof(U) - 1);
  return (u & sign) ? ~u : (u | sign);
}

// k-th largest (1 <= k <= m) of h[0..m): a histogram of the top 12 key bits finds its bin, then
// nth_element runs on that bin only.
template <class T>
T kth_largest(const T* h, int64_t m, int64_t k) {
  constexpr int shift = int(8 * sizeof(T)) - 12;
  std::vector<int64_t> hist(4096, 0);
  for (int64_t i = 0; i < m; ++i) ++hist[size_t(ordered_key(h[i]) >> shift)];
  int64_t above = 0, bin = 4095;
  for (; bin > 0 && above + hist[size_t(bin)] < k; --bin) above += hist[size_t(bin)];
  std::vector<T> in;
  in.reserve(size_t(hist[size_t(bin)]));
  for (int64_t i = 0; i < m; ++i)
    if (int64_t(ordered_key(h[i]) >> shift) == bin) in.push_back(h[i]);
  int64_t r = k - above - 1;
  std::nth_element(in.begin(), in.begin() + r, in.end(), std::greater<T>());
  return in[size_t(r)];
}

// Top `nms_pre` anchors of a level by (sigmoid score descending, flat index ascending); all anchors in
// flat order when nms_pre <= 0 or the level has no more. The sigmoid is monotone but not injective
// (distinct logits can round to one score), so the k-th largest logit L only bounds the selection:
// scores are computed for the candidates with logit >= T, where sigmoid(T) < sigmoid(L) is checked with
// the same kernel, and ranked exactly as if every anchor had been scored.
template <class T>
LevelTopK level_topk_t(const Tensor& logits, int64_t nms_pre) {
  LevelTopK r;
  int64_t a = logits.size(0), hw = logits.size(1) * logits.size(2), m = a * hw;
  if (m == 0) return r;
  if (nms_pre <= 0 || m <= nms_pre) {
    r.flat.resize(size_t(m));
    std::iota(r.flat.begin(), r.flat.end(), 0);
    r.scores = sigmoid(gather_logits(logits, r.flat));
    return r;
  }
  Tensor host = logits.cpu().contiguous();  // channel-major: flat k sits at (k % A)*hw + k / A
  const T* h = host.data<T>();
  double kth = double(kth_largest(h, m, nms_pre)), lo = -INFINITY;
  for (double gap = std::max(1e-6, std::fabs(kth) * 1e-6); std::isfinite(kth) && gap < 1e300; gap *= 16) {
    Tensor probe = Tensor::from_vector<double>({kth, kth - gap}, {2}).to(logits.dtype()).to(logits.device());
    std::vector<double> v = host_values(probe), sv = host_values(sigmoid(probe));
    if (sv[1] < sv[0]) {
      lo = v[1];
      break;
    }
  }
  std::vector<int64_t> cand;
  for (int64_t c = 0; c < a; ++c)
    for (int64_t q = 0; q < hw; ++q)
      if (double(h[c * hw + q]) >= lo) cand.push_back(q * a + c);
  std::sort(cand.begin(), cand.end());
  Tensor cs = sigmoid(gather_logits(logits, cand));
  std::vector<int64_t> pos = topk_indices(host_values(cs), nms_pre);  // ties: lower flat index first
  r.flat.resize(pos.size());
  for (size_t i = 0; i < pos.size(); ++i) r.flat[i] = cand[size_t(pos[i])];
  r.scores = index_select(cs, 0, index_of(pos, cs.device()));
  return r;
}

LevelTopK level_topk(const Tensor& logits, int64_t nms_pre) {
  LevelTopK r;
  VPS_DISPATCH_FLOAT(logits.dtype(), "RPNHead::get_proposals", [&] { r = level_topk_t<scalar_t>(logits, nms_pre); });
  return r;
}

// Anchors (|flat|, 4) float32 of level l at flat indices k = (y*W + x)*A + a: base[a] + (x, y, x, y) *
// stride, the same float32 sums as grid_anchors, without generating the whole grid.
Tensor selected_anchors(const AnchorSpec& spec, size_t l, int64_t feat_w, const std::vector<int64_t>& flat,
                        Device dev) {
  Tensor base = base_anchors(double(spec.strides[l]), spec.scales, spec.ratios);
  const float* b = base.data<float>();
  int64_t a = base.size(0), stride = spec.strides[l];
  std::vector<float> out(4 * flat.size());
  for (size_t i = 0; i < flat.size(); ++i) {
    int64_t k = flat[i] % a, pos = flat[i] / a;
    float sx = float((pos % feat_w) * stride), sy = float((pos / feat_w) * stride);
    out[4 * i + 0] = b[k * 4 + 0] + sx;
    out[4 * i + 1] = b[k * 4 + 1] + sy;
    out[4 * i + 2] = b[k * 4 + 2] + sx;
    out[4 * i + 3] = b[k * 4 + 3] + sy;
  }
  return Tensor::from_vector(out, {int64_t(flat.size()), 4}).to(dev);
}

void check_outputs(const char* op, const std::vector<Tensor>& cls, const std::vector<Tensor>& deltas, int64_t n) {
  VPS_CHECK(!cls.empty() && cls.size() == deltas.size(), op, ": ", cls.size(), " cls levels but ", deltas.size(),
            " delta levels");
  for (size_t i = 0; i < cls.size(); ++i) {
    const Tensor &c = cls[i], &d = deltas[i];
    VPS_CHECK(c.defined() && d.defined() && c.dim() == 4 && d.dim() == 4 && d.size(1) == 4 * c.size(1) &&
                  c.size(0) == d.size(0) && c.size(2) == d.size(2) && c.size(3) == d.size(3),
              op, ": level ", i, " cls must be (N,A,H,W) and deltas (N,4A,H,W), got ",
              c.defined() ? shape_str(c.shape()) : "undefined", " and ",
              d.defined() ? shape_str(d.shape()) : "undefined");
    VPS_CHECK(n >= 0 && n < c.size(0), op, ": image ", n, " out of range for batch ", c.size(0));
  }
}

}  // namespace

ProposalOptions ProposalOptions::train() {
  ProposalOptions c;
  c.nms_pre = c.nms_post = c.max_num = 2000;
  return c;
}
ProposalOptions ProposalOptions::test() { return ProposalOptions(); }

RPNHead::RPNHead(const RPNHeadOptions& o) : RPNHead(o, *std::make_unique<Generator>(0)) {}

RPNHead::RPNHead(const RPNHeadOptions& o, Generator& gen) : opt_(o) {
  spec_.scales = o.anchor_scales;
  spec_.ratios = o.anchor_ratios;
  spec_.strides = o.anchor_strides;
  VPS_CHECK(o.in_channels > 0 && o.feat_channels > 0 && spec_.num_base() > 0 && !spec_.strides.empty(),
            "RPNHead: bad options (in_channels ", o.in_channels, ", feat_channels ", o.feat_channels, ", ",
            spec_.num_base(), " anchors, ", spec_.strides.size(), " strides)");
  int64_t a = spec_.num_base();
  rpn_conv = register_module("rpn_conv", normal_conv(o.in_channels, o.feat_channels, 3, gen));
  rpn_cls = register_module("rpn_cls", normal_conv(o.feat_channels, a, 1, gen));
  rpn_reg = register_module("rpn_reg", normal_conv(o.feat_channels, 4 * a, 1, gen));
}

std::pair<std::vector<Tensor>, std::vector<Tensor>> RPNHead::forward(const std::vector<Tensor>& feats) {
  VPS_CHECK(feats.size() == spec_.strides.size(), "RPNHead: expected ", spec_.strides.size(),
            " feature levels (one per anchor stride), got ", feats.size());
  for (size_t i = 0; i < feats.size(); ++i) {
    const Tensor& f = feats[i];
    VPS_CHECK(f.defined() && f.dim() == 4 && f.size(1) == opt_.in_channels, "RPNHead: level ", i,
              " must be (N,", opt_.in_channels, ",H,W), got ", f.defined() ? shape_str(f.shape()) : "undefined");
  }
  std::vector<Tensor> cls, deltas;
  for (const Tensor& f : feats) {
    Tensor x = rpn_conv->forward_relu(f);
    cls.push_back(rpn_cls->forward(x));
    deltas.push_back(rpn_reg->forward(x));
  }
  return {cls, deltas};
}

std::vector<Tensor> RPNHead::anchors(const std::vector<Tensor>& feats) const {
  VPS_CHECK(feats.size() == spec_.strides.size(), "RPNHead::anchors: expected ", spec_.strides.size(),
            " levels, got ", feats.size());
  std::vector<std::pair<int64_t, int64_t>> sizes;
  for (const Tensor& f : feats) {
    VPS_CHECK(f.defined() && f.dim() == 4, "RPNHead::anchors: levels must be (N,C,H,W)");
    sizes.emplace_back(f.size(2), f.size(3));
  }
  return multi_level_anchors(spec_, sizes, feats[0].device());
}

Tensor RPNHead::get_proposals(const std::vector<Tensor>& cls, const std::vector<Tensor>& deltas, int64_t n,
                              int64_t img_h, int64_t img_w, const ProposalOptions& cfg) const {
  check_outputs("RPNHead::get_proposals", cls, deltas, n);
  VPS_CHECK(cls.size() == spec_.strides.size(), "RPNHead::get_proposals: expected ", spec_.strides.size(),
            " levels, got ", cls.size());
  VPS_CHECK(img_h > 0 && img_w > 0, "RPNHead::get_proposals: bad image size ", img_h, "x", img_w);
  autograd::NoGradGuard ng;
  Device dev = deltas[0].device();
  DType dt = deltas[0].dtype();
  BoxCoderParams p;
  p.max_h = double(img_h);
  p.max_w = double(img_w);
  std::vector<Tensor> levels;
  for (size_t i = 0; i < cls.size(); ++i) {
    // Only the kept anchors are touched: no permuted copy of the level, no sigmoid of every score.
    LevelTopK top = level_topk(cls[i].select(0, n).to(dt), cfg.nms_pre);
    if (top.flat.empty()) continue;
    Tensor scores = top.scores;
    Tensor anc = selected_anchors(spec_, i, cls[i].size(3), top.flat, dev).to(dt);
    Tensor deltas_l = gather_deltas(deltas[i].select(0, n), top.flat);
    Tensor boxes = delta2bbox(anc, deltas_l, p);
    if (cfg.min_bbox_size > 0) {
      std::vector<double> b = host_values(boxes);
      std::vector<int64_t> valid;
      for (int64_t k = 0; k < boxes.size(0); ++k)
        if (b[4 * k + 2] - b[4 * k] + 1 >= cfg.min_bbox_size && b[4 * k + 3] - b[4 * k + 1] + 1 >= cfg.min_bbox_size)
          valid.push_back(k);
      Tensor idx = index_of(valid, dev);
      boxes = index_select(boxes, 0, idx);
      scores = index_select(scores, 0, idx);
    }
    Tensor keep = nms(boxes, scores, cfg.nms_thr, /*legacy_plus_one=*/true);
    if (keep.size(0) > cfg.nms_post) keep = keep.slice(0, 0, cfg.nms_post);
    levels.push_back(cat({index_select(boxes, 0, keep), index_select(scores, 0, keep).unsqueeze(1)}, 1));
  }
  if (levels.empty()) return Tensor::zeros({0, 5}, dt, dev);
  Tensor all = cat(levels, 0);
  int64_t num = std::min<int64_t>(cfg.max_num, all.size(0));
  Tensor idx = index_of(topk_indices(host_values(all.select(1, 4)), num), dev);
  return index_select(all, 0, idx);
}

std::pair<Tensor, Tensor> flatten_rpn_outputs(const std::vector<Tensor>& cls, const std::vector<Tensor>& deltas,
                                              int64_t n) {
  check_outputs("flatten_rpn_outputs", cls, deltas, n);
  std::vector<Tensor> s, d;
  for (size_t i = 0; i < cls.size(); ++i) {
    s.push_back(reshape(permute(select(cls[i], 0, n), {1, 2, 0}), {-1}));
    d.push_back(reshape(permute(select(deltas[i], 0, n), {1, 2, 0}), {-1, 4}));
  }
  if (s.size() == 1) return {s[0], d[0]};
  return {cat(s, 0), cat(d, 0)};
}

std::vector<int64_t> topk_indices(const std::vector<double>& v, int64_t k) {
  std::vector<int64_t> idx(v.size());
  std::iota(idx.begin(), idx.end(), 0);
  k = std::max<int64_t>(0, std::min<int64_t>(k, int64_t(v.size())));
  // (value descending, index ascending) is a strict total order: select the k first, then sort them.
  auto before = [&](int64_t a, int64_t b) { return v[size_t(a)] > v[size_t(b)] || (v[size_t(a)] == v[size_t(b)] && a < b); };
  if (k < int64_t(idx.size())) std::nth_element(idx.begin(), idx.begin() + k, idx.end(), before);
  idx.resize(size_t(k));
  std::sort(idx.begin(), idx.end(), before);
  return idx;
}

}  // namespace vps::models
