#include "models/vps/panoptic_head.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <tuple>

#include "autograd/grad_mode.h"
#include "autograd/node.h"
#include "layers/interpolate.h"
#include "losses/det_losses.h"
#include "ops/ops.h"
#include "tensor/check.h"
#include "tensor/copy.h"

namespace vps::models {

namespace {

// Python's a[start:stop] on a dimension of size n: negative ends count from the end, then clamp.
std::pair<int64_t, int64_t> py_slice(int64_t start, int64_t stop, int64_t n) {
  auto norm = [n](int64_t v) {
    if (v < 0) v += n;
    return std::min(std::max<int64_t>(v, 0), n);
  };
  return {norm(start), norm(stop)};
}

// UPSNet's paste of a mask (MaskTerm in training, MaskRemoval at test time): box i truncated toward
// zero (torch's .long(), numpy's astype(int32)), mask i resized bilinearly (half-pixel, as
// cv2.resize's INTER_LINEAR) to (y2 - y1 + 1, x2 - x1 + 1), at least 1x1, and cropped to an (h, w) map.
// `part` is the crop (undefined when the box misses the map), placed at (y0, x0). Differentiable.
struct PastedMask {
  Tensor part;
  int64_t y0 = 0, x0 = 0;
};
PastedMask paste_mask(const Tensor& masks, int64_t i, const float* box, int64_t h, int64_t w) {
  int64_t rx1 = int64_t(box[0]), ry1 = int64_t(box[1]), rx2 = int64_t(box[2]), ry2 = int64_t(box[3]);
  int64_t bw = std::max<int64_t>(rx2 - rx1 + 1, 1), bh = std::max<int64_t>(ry2 - ry1 + 1, 1);
  int64_t x0 = std::max<int64_t>(rx1, 0), x1 = std::min(rx2 + 1, w), y0 = std::max<int64_t>(ry1, 0),
          y1 = std::min(ry2 + 1, h);
  PastedMask p;
  p.y0 = y0, p.x0 = x0;
  if (x1 <= x0 || y1 <= y0) return p;  // the box misses the map (VPSNet's boxes never do)
  Tensor m = interpolate(reshape(select(masks, 0, i), {1, 1, masks.size(1), masks.size(2)}), {bh, bw},
                         InterpMode::bilinear, false);
  p.part = reshape(slice(slice(m, 2, y0 - ry1, y1 - ry1), 3, x0 - rx1, x1 - rx1), {y1 - y0, x1 - x0});
  return p;
}

void check_boxes(const char* op, const Tensor& boxes, int64_t k) {
  VPS_CHECK(boxes.dim() == 2 && boxes.size(1) >= 4 && boxes.size(0) == k, "PanopticHead::", op, ": boxes ",
            shape_str(boxes.shape()), " must be (", k, ", 4)");
}

}  // namespace

PanopticHead::PanopticHead(const PanopticHeadOptions& o) : opt_(o) {
  VPS_CHECK(o.num_stuff >= 1 && !o.class_mapping.empty(), "PanopticHead: num_stuff and class_mapping must be set");
}

std::vector<PanopticHead::InstRegion> PanopticHead::inst_regions(const Tensor& boxes, const Tensor& cls,
                                                                  int64_t channels, int64_t h, int64_t w) const {
  const int64_t k = cls.size(0);
  std::vector<int64_t> labels = cls.to(DType::i64).to_vector<int64_t>();
  std::vector<float> b = boxes.slice(1, 0, 4).to(DType::f32).contiguous().to_vector<float>();
  std::vector<InstRegion> r(static_cast<size_t>(k));
  for (int64_t i = 0; i < k; ++i) {
    int64_t l = labels[size_t(i)];
    if (l == 0) continue;  // no content (the dummy detection)
    VPS_CHECK(l >= 1 && l <= int64_t(opt_.class_mapping.size()), "PanopticHead::seg_term: label ", l, " of box ", i,
              " is not a thing label 1..", opt_.class_mapping.size());
    InstRegion& g = r[size_t(i)];
    g.channel = opt_.class_mapping[size_t(l - 1)];
    VPS_CHECK(g.channel < channels, "PanopticHead::seg_term: class_mapping channel ", g.channel, " is beyond the ",
              channels, " semantic channels");
    const float* bi = &b[size_t(4 * i)];
    // y0 = int(b[1]), y1 = int(round(b[3]) + 1): truncation toward zero and round half to even
    std::tie(g.y0, g.y1) = py_slice(int64_t(bi[1]), int64_t(std::nearbyint(bi[3]) + 1), h);
    std::tie(g.x0, g.x1) = py_slice(int64_t(bi[0]), int64_t(std::nearbyint(bi[2]) + 1), w);
  }
  return r;
}

SegTermOutput PanopticHead::seg_term(const Tensor& seg_score, const Tensor& boxes, const Tensor& cls) const {
  VPS_CHECK(seg_score.dim() == 4 && seg_score.size(0) == 1, "PanopticHead::seg_term: seg_score must be (1, C, h, w), got ",
            shape_str(seg_score.shape()));
  VPS_CHECK(cls.dim() == 1, "PanopticHead::seg_term: labels must be 1-D, got ", shape_str(cls.shape()));
  const int64_t k = cls.size(0), h = seg_score.size(2), w = seg_score.size(3);
  check_boxes("seg_term", boxes, k);
  std::vector<InstRegion> regions = inst_regions(boxes, cls, seg_score.size(1), h, w);
  SegTermOutput out;
  out.stuff = slice(seg_score, 1, 0, opt_.num_stuff);
  std::vector<int64_t> channel(static_cast<size_t>(k), 0);
  std::vector<double> mask(size_t(k * h * w), 0.0);
  for (int64_t i = 0; i < k; ++i) {
    const InstRegion& g = regions[size_t(i)];
    if (g.channel < 0) continue;
    channel[size_t(i)] = g.channel;
    for (int64_t y = g.y0; y < g.y1; ++y)
      for (int64_t x = g.x0; x < g.x1; ++x) mask[size_t((i * h + y) * w + x)] = 1.0;
  }
  Tensor sel = index_select(seg_score, 1, Tensor::from_vector<int64_t>(channel, {k}).to(seg_score.device()));
  out.inst = mul(sel, Tensor::from_vector<double>(mask, {1, k, h, w}).to(seg_score.dtype()).to(seg_score.device()));
  return out;
}

Tensor PanopticHead::mask_term(const Tensor& masks, const Tensor& boxes, int64_t h, int64_t w) const {
  VPS_CHECK(masks.dim() == 3, "PanopticHead::mask_term: masks must be (k, S, S), got ", shape_str(masks.shape()));
  const int64_t k = masks.size(0);
  check_boxes("mask_term", boxes, k);
  if (k == 0) return Tensor::zeros({1, 0, h, w}, masks.dtype(), masks.device());
  std::vector<float> b = boxes.slice(1, 0, 4).to(DType::f32).contiguous().to_vector<float>();
  std::vector<Tensor> pasted;
  for (int64_t i = 0; i < k; ++i) {
    PastedMask p = paste_mask(masks, i, &b[size_t(4 * i)], h, w);
    pasted.push_back(!p.part.defined() ? Tensor::zeros({1, h, w}, masks.dtype(), masks.device())
                                       : reshape(pad(p.part, {p.x0, w - p.x0 - p.part.size(1), p.y0,
                                                              h - p.y0 - p.part.size(0)}),
                                                 {1, h, w}));
  }
  return reshape(cat(pasted, 0), {1, k, h, w});
}

Tensor PanopticHead::mask_matching(const Tensor& gt_seg, const Tensor& gt_masks) const {
  VPS_CHECK(gt_seg.dim() == 2 && gt_masks.dim() == 3 && gt_masks.size(1) == gt_seg.size(0) &&
                gt_masks.size(2) == gt_seg.size(1),
            "PanopticHead::mask_matching: semantic GT ", shape_str(gt_seg.shape()), " and instance masks ",
            shape_str(gt_masks.shape()), " must be (h, w) and (k, h, w)");
  const int64_t hw = gt_seg.numel(), k = gt_masks.size(0);
  std::vector<int64_t> seg = gt_seg.to(DType::i64).contiguous().to_vector<int64_t>(), out(size_t(hw), -1);
  std::vector<int64_t> m = gt_masks.to(DType::i64).contiguous().to_vector<int64_t>();
  for (int64_t p = 0; p < hw; ++p)
    if (seg[size_t(p)] <= opt_.num_stuff - 1 || seg[size_t(p)] >= 255) out[size_t(p)] = seg[size_t(p)];
  for (int64_t i = 0; i < k; ++i)
    for (int64_t p = 0; p < hw; ++p) {
      int64_t v = m[size_t(i * hw + p)];
      if (v != 0 && v != 255) out[size_t(p)] = opt_.num_stuff + i;
    }
  for (auto& v : out)
    if (v == -1) v = opt_.ignore_label;
  return Tensor::from_vector<int64_t>(out, gt_seg.shape());
}

Tensor PanopticHead::loss(const Tensor& logits, const Tensor& target) const {
  VPS_CHECK(logits.dim() == 4 && logits.size(0) == 1 && target.dim() == 2 && target.size(0) == logits.size(2) &&
                target.size(1) == logits.size(3),
            "PanopticHead::loss: logits ", shape_str(logits.shape()), " and target ", shape_str(target.shape()),
            " must be (1, C, h, w) and (h, w)");
  Tensor ce = softmax_cross_entropy_nchw(logits, reshape(target.to(DType::i64), {1, target.size(0), target.size(1)}),
                                         opt_.ignore_label);
  return mul(ce, opt_.loss_weight);
}

Tensor PanopticHead::train_logits(const Tensor& fcn_score, const Tensor& gt_boxes, const Tensor& gt_labels,
                                  const Tensor& gt_mask_logits) const {
  Tensor boxes = mul(gt_boxes.slice(1, 0, 4).to(DType::f32), 0.25);  // box_scale 1/4, in float32 as numpy
  SegTermOutput st = seg_term(fcn_score, boxes, gt_labels);
  Tensor mt = mask_term(gt_mask_logits, boxes, fcn_score.size(2), fcn_score.size(3));
  return cat({st.stuff, add(st.inst, mt.to(st.inst.dtype()))}, 1);
}

MaskRemovalOutput PanopticHead::mask_removal(const Tensor& rois, const Tensor& cls_prob, const Tensor& mask_logits,
                                             const Tensor& cls_idx, int64_t H, int64_t W, bool dense_energy) const {
  const int64_t n = cls_prob.dim() == 1 ? cls_prob.size(0) : -1;
  VPS_CHECK(n >= 1 && mask_logits.dim() == 3 && mask_logits.size(0) == n && cls_idx.dim() == 1 && cls_idx.size(0) == n,
            "PanopticHead::mask_removal: cls_prob ", shape_str(cls_prob.shape()), ", mask_logits ",
            shape_str(mask_logits.shape()), " and labels ", shape_str(cls_idx.shape()),
            " must describe the same n >= 1 detections (VPSNet passes a dummy one when it has none)");
  check_boxes("mask_removal", rois, n);
  autograd::NoGradGuard ng;
  std::vector<float> b = rois.slice(1, 0, 4).to(DType::f32).contiguous().to_vector<float>();
  std::vector<double> prob = cls_prob.to(DType::f64).to_vector<double>();
  std::vector<int64_t> lab = cls_idx.to(DType::i64).to_vector<int64_t>();
  MaskRemovalOutput out;
  auto nothing = [&] {
    out.keep = {0};
    out.crops.clear();
    if (dense_energy) out.energy = Tensor::zeros({1, 1, H, W}, mask_logits.dtype(), mask_logits.device());
    return out;
  };
  if (n == 1 && lab[0] == 0) return nothing();  // the dummy detection
  // np.argsort(cls_prob)[::-1]: ascending (stable for the small arrays numpy sorts by insertion), reversed
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t c) { return prob[size_t(a)] < prob[size_t(c)]; });
  std::reverse(order.begin(), order.end());
  int64_t ncls = *std::max_element(lab.begin(), lab.end());
  VPS_CHECK(ncls >= 1 && *std::min_element(lab.begin(), lab.end()) >= 1, "PanopticHead::mask_removal: labels must be 1..",
            opt_.class_mapping.size());
  std::vector<uint8_t> covered(size_t(ncls * H * W), 0);  // per class; uint8 += as numpy (wraps at 256)
  for (int64_t i : order) {
    PastedMask p = paste_mask(mask_logits, i, &b[size_t(4 * i)], H, W);
    if (!p.part.defined()) continue;  // nothing inside the image
    const int64_t ph = p.part.size(0), pw = p.part.size(1);
    std::vector<double> lv = p.part.to(DType::f64).contiguous().to_vector<double>();
    int64_t sum = 0, overlap = 0;
    uint8_t* cov = covered.data() + (lab[size_t(i)] - 1) * H * W;
    for (int64_t y = 0; y < ph; ++y)
      for (int64_t x = 0; x < pw; ++x)
        if (lv[size_t(y * pw + x)] > 0) ++sum, overlap += cov[(p.y0 + y) * W + p.x0 + x] >= 1;
    if (sum == 0 || double(overlap) / double(sum) > opt_.fraction_threshold) continue;
    out.keep.push_back(i);
    for (int64_t y = 0; y < ph; ++y)
      for (int64_t x = 0; x < pw; ++x) {
        uint8_t& c = cov[(p.y0 + y) * W + p.x0 + x];
        c = uint8_t(c + (lv[size_t(y * pw + x)] > 0));  // uint8 as numpy's mask_image (wraps at 256)
      }
    out.crops.push_back({p.part, p.y0, p.x0});
  }
  if (out.keep.empty()) return nothing();
  if (dense_energy) {  // each kept mask's logits inside its (cropped) box, 0 elsewhere
    out.energy = Tensor::zeros({1, int64_t(out.crops.size()), H, W}, mask_logits.dtype(), mask_logits.device());
    for (size_t c = 0; c < out.crops.size(); ++c) {
      const EnergyCrop& cr = out.crops[c];
      out.energy.select(0, 0).select(0, int64_t(c)).slice(0, cr.y0, cr.y0 + cr.logits.size(0))
          .slice(1, cr.x0, cr.x0 + cr.logits.size(1)).copy_(cr.logits);
    }
  }
  return out;
}

Tensor PanopticHead::test_logits(const Tensor& fcn_output, const Tensor& boxes, const Tensor& labels,
                                 const MaskRemovalOutput& r) const {
  VPS_CHECK(fcn_output.dim() == 4 && fcn_output.size(0) == 1, "PanopticHead::test_logits: fcn_output must be (1, C, H, W), got ",
            shape_str(fcn_output.shape()));
  const int64_t k = labels.size(0), H = fcn_output.size(2), W = fcn_output.size(3), ns = opt_.num_stuff;
  check_boxes("test_logits", boxes, k);
  VPS_CHECK(r.crops.empty() || int64_t(r.crops.size()) == k, "PanopticHead::test_logits: ", r.crops.size(),
            " mask crops for ", k, " detections");
  autograd::NoGradGuard ng;
  std::vector<InstRegion> regions = inst_regions(boxes, labels, fcn_output.size(1), H, W);
  Tensor logits = Tensor::zeros({1, ns + k, H, W}, fcn_output.dtype(), fcn_output.device());
  Tensor plane = logits.select(0, 0), fcn = fcn_output.select(0, 0);
  plane.slice(0, 0, ns).copy_(fcn.slice(0, 0, ns));
  for (int64_t i = 0; i < k; ++i) {
    const InstRegion& g = regions[size_t(i)];
    if (g.channel >= 0 && g.y1 > g.y0 && g.x1 > g.x0)  // seg_term: the class channel inside the box
      plane.select(0, ns + i).slice(0, g.y0, g.y1).slice(1, g.x0, g.x1)
          .copy_(fcn.select(0, g.channel).slice(0, g.y0, g.y1).slice(1, g.x0, g.x1));
    if (!r.crops.empty()) {  // + the mask energy inside the mask's box
      const EnergyCrop& c = r.crops[size_t(i)];
      add_into(plane.select(0, ns + i).slice(0, c.y0, c.y0 + c.logits.size(0)).slice(1, c.x0, c.x0 + c.logits.size(1)),
               c.logits.to(logits.dtype()));
    }
  }
  return logits;
}

Tensor PanopticHead::argmax_of_softmax(const Tensor& logits, int64_t img_h, int64_t img_w) {
  VPS_CHECK(logits.dim() == 4 && logits.size(0) == 1 && img_h >= 1 && img_w >= 1 && img_h <= logits.size(2) &&
                img_w <= logits.size(3),
            "PanopticHead: logits ", shape_str(logits.shape()), " cannot be cropped to ", img_h, "x", img_w);
  autograd::NoGradGuard ng;
  // torch.max(F.softmax(logits, 1), 1)[1]: probabilities that round to the same float tie (first wins);
  // softmax_argmax computes each pixel's channels as one contiguous row without keeping them
  return softmax_argmax(logits.select(0, 0).slice(1, 0, img_h).slice(2, 0, img_w), 0);
}

}  // namespace vps::models
