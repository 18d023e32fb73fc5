#include "models/rpn_head.h"

#include <algorithm>
#include <numeric>

#include "autograd/grad_mode.h"
#include "layers/box_coder.h"
#include "layers/init.h"
#include "layers/nms.h"
#include "ops/ops.h"

namespace vps {
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

ProposalConfig ProposalConfig::train() {
  ProposalConfig c;
  c.nms_pre = c.nms_post = c.max_num = 2000;
  return c;
}
ProposalConfig ProposalConfig::test() { return ProposalConfig(); }

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
    Tensor x = relu(rpn_conv->forward(f));
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
                              int64_t img_h, int64_t img_w, const ProposalConfig& cfg) const {
  check_outputs("RPNHead::get_proposals", cls, deltas, n);
  VPS_CHECK(cls.size() == spec_.strides.size(), "RPNHead::get_proposals: expected ", spec_.strides.size(),
            " levels, got ", cls.size());
  VPS_CHECK(img_h > 0 && img_w > 0, "RPNHead::get_proposals: bad image size ", img_h, "x", img_w);
  autograd::NoGradGuard ng;
  Device dev = deltas[0].device();
  DType dt = deltas[0].dtype();
  std::vector<std::pair<int64_t, int64_t>> sizes;
  for (const Tensor& c : cls) sizes.emplace_back(c.size(2), c.size(3));
  std::vector<Tensor> anchors = multi_level_anchors(spec_, sizes, dev);
  BoxCoderParams p;
  p.max_h = double(img_h);
  p.max_w = double(img_w);
  std::vector<Tensor> levels;
  for (size_t i = 0; i < cls.size(); ++i) {
    auto [scores_l, deltas_l] = flatten_rpn_outputs({cls[i]}, {deltas[i]}, n);
    if (scores_l.numel() == 0) continue;
    Tensor scores = sigmoid(scores_l.to(dt));
    Tensor anc = anchors[i].to(dt);
    if (cfg.nms_pre > 0 && scores.size(0) > cfg.nms_pre) {
      Tensor idx = index_of(topk_indices(host_values(scores), cfg.nms_pre), dev);
      scores = index_select(scores, 0, idx);
      deltas_l = index_select(deltas_l, 0, idx);
      anc = index_select(anc, 0, idx);
    }
    Tensor boxes = delta2bbox(anc, deltas_l.contiguous(), p);
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

}  // namespace vps
