#include "models/vps/siamtrack.h"

#include <algorithm>
#include <set>

#include "layers/interpolate.h"
#include "losses/siamtrack_losses.h"
#include "ops/ops.h"
#include "sample/sample.h"
#include "tensor/check.h"

namespace vps::models {

namespace {

constexpr int64_t kIgnore = 255;

// A frame's segments for MaskPool: key (class or track id) -> its mask (h * w, 0/1), only non-empty ones.
using Segments = std::map<int64_t, std::vector<uint8_t>>;

Segments semantic_segments(const std::vector<int64_t>& sem, int64_t num_classes) {
  Segments s;
  for (size_t p = 0; p < sem.size(); ++p) {
    int64_t c = sem[p];
    if (c < 0 || c >= num_classes) continue;  // ignore (255)
    auto& m = s[c];
    if (m.empty()) m.assign(sem.size(), 0);
    m[p] = 1;
  }
  return s;
}

// One segment per instance (keyed by track id), its GT mask without the semantic map's ignore pixels.
Segments instance_segments(const std::vector<int64_t>& sem, const std::vector<uint8_t>& masks,
                           const std::vector<int64_t>& ids) {
  Segments s;
  const size_t hw = sem.size();
  for (size_t g = 0; g < ids.size(); ++g) {
    std::vector<uint8_t> m(hw, 0);
    bool any = false;
    for (size_t p = 0; p < hw; ++p) {
      uint8_t v = masks[g * hw + p];
      m[p] = v != 0 && v != kIgnore && sem[p] != kIgnore;
      any = any || m[p];
    }
    if (any) s[ids[g]] = std::move(m);
  }
  return s;
}

// The contrastive loss of the segments present in both frames (rows in key order); n: their number.
Tensor contrastive(const Segments& a, const Segments& b, const Tensor& emb_t, const Tensor& emb_r, double tau,
                   int64_t& n) {
  std::vector<uint8_t> ma, mb;
  n = 0;
  for (auto& [key, m] : a) {
    auto it = b.find(key);
    if (it == b.end()) continue;
    ma.insert(ma.end(), m.begin(), m.end());
    mb.insert(mb.end(), it->second.begin(), it->second.end());
    ++n;
  }
  const int64_t h = emb_t.size(2), w = emb_t.size(3);
  if (n == 0) return mul(add(sum(emb_t), sum(emb_r)), 0.0);
  auto pool = [&](const std::vector<uint8_t>& m, const Tensor& emb) {
    return mask_pool(emb, Tensor::from_vector<uint8_t>(m, {n, h, w}).to(emb.device()));
  };
  return segment_contrastive_loss(pool(ma, emb_t), pool(mb, emb_r), tau);
}

std::vector<int64_t> host_i64(const Tensor& t) { return t.to(DType::i64).contiguous().to_vector<int64_t>(); }

void check_frame(const SiamTrackFrame& f, const char* which) {
  VPS_CHECK(f.semantic.defined() && f.semantic.dim() == 2 && f.masks.defined() && f.masks.dim() == 3 &&
                f.masks.size(0) == int64_t(f.track_ids.size()) && f.masks.size(1) == f.semantic.size(0) &&
                f.masks.size(2) == f.semantic.size(1),
            "SiamTrack: the ", which, " frame's semantic GT ",
            f.semantic.defined() ? shape_str(f.semantic.shape()) : std::string("(undefined)"), ", masks ",
            f.masks.defined() ? shape_str(f.masks.shape()) : std::string("(undefined)"), " and ", f.track_ids.size(),
            " track ids must be (h, w), (G, h, w) and G");
}

// L_warp of the pair: the occlusion map at full resolution from the images in [0, 1] (times the
// flow's validity), flow and map at the logits' resolution, channels: every stuff class and the
// instances whose track id is in both frames.
Tensor warp_term(const SiamTrackOptions& o, int64_t num_stuff, const SiamTrackFrame& t, const SiamTrackFrame& r,
                 const Tensor& flow, const Tensor& flow_valid) {
  VPS_CHECK(t.image.defined() && r.image.defined() && flow.dim() == 4 && flow.size(0) == 1 && flow.size(1) == 2 &&
                flow.size(2) == t.image.size(2) && flow.size(3) == t.image.size(3) &&
                (!flow_valid.defined() || flow_valid.shape() == (Shape{1, 1, flow.size(2), flow.size(3)})),
            "SiamTrack: the flow ", shape_str(flow.shape()), " and its validity ",
            flow_valid.defined() ? shape_str(flow_valid.shape()) : std::string("(none)"),
            " must be (1, 2, H, W) and (1, 1, H, W) on the target's padded image grid ",
            t.image.defined() ? shape_str(t.image.shape()) : std::string("(no image)"));
  const Device dev = t.pano_logits.device();
  const DType dt = t.pano_logits.dtype();
  Tensor f = flow.to(dt).to(dev);
  Tensor occ = occlusion_map(unit_range_image(t.image.to(dt).to(dev)), unit_range_image(r.image.to(dt).to(dev)),
                             f, o.occlusion_alpha);
  if (flow_valid.defined()) occ = mul(occ, flow_valid.to(dt).to(dev));
  const int64_t h = t.pano_logits.size(2), w = t.pano_logits.size(3);
  std::vector<std::pair<int64_t, int64_t>> channels;
  for (int64_t c = 0; c < num_stuff; ++c) channels.push_back({c, c});
  for (size_t i = 0; i < t.track_ids.size(); ++i) {
    auto it = std::find(r.track_ids.begin(), r.track_ids.end(), t.track_ids[i]);
    if (it != r.track_ids.end()) channels.push_back({num_stuff + int64_t(i), num_stuff + int64_t(it - r.track_ids.begin())});
  }
  return warp_loss(t.pano_logits, r.pano_logits, channels, downsample_flow(f, h, w),
                   interpolate(occ, {h, w}, InterpMode::nearest));
}

}  // namespace

void add_siamtrack_losses(LossMap& out, const SiamTrackOptions& o, int64_t num_stuff, int64_t num_classes,
                          const SiamTrackFrame& t, const SiamTrackFrame& r, const Tensor& flow,
                          const Tensor& flow_valid) {
  check_frame(t, "target");
  check_frame(r, "reference");
  std::vector<int64_t> sem_t = host_i64(t.semantic), sem_r = host_i64(r.semantic);
  if (o.segment_losses()) {
    VPS_CHECK(t.embedding.defined() && r.embedding.defined() && t.embedding.size(2) == t.semantic.size(0) &&
                  t.embedding.size(3) == t.semantic.size(1) && r.embedding.size(2) == r.semantic.size(0) &&
                  r.embedding.size(3) == r.semantic.size(1),
              "SiamTrack: the embeddings must match the GT at 1/4 (", shape_str(t.semantic.shape()), ", ",
              shape_str(r.semantic.shape()), ")");
    auto log_count = [&](const char* key, int64_t n) { out[key] = Tensor::scalar(double(n), DType::f32); };
    int64_t n = 0;
    if (o.contra_sem) {
      Tensor l = contrastive(semantic_segments(sem_t, num_classes), semantic_segments(sem_r, num_classes), t.embedding,
                             r.embedding, o.temperature, n);
      out["loss_contra_sem"] = mul(l, o.lambda_segment);
      log_count("siam_n_sem", n);
    }
    if (o.contra_inst) {
      auto masks = [](const Tensor& m) { return m.to(DType::u8).contiguous().to_vector<uint8_t>(); };
      Tensor l = contrastive(instance_segments(sem_t, masks(t.masks), t.track_ids),
                             instance_segments(sem_r, masks(r.masks), r.track_ids), t.embedding, r.embedding,
                             o.temperature, n);
      out["loss_contra_inst"] = mul(l, o.lambda_segment);
      log_count("siam_n_inst", n);
    }
  }
  if (o.enabled && o.warp) {
    if (!flow.defined()) {
      out["siam_warp_skipped"] = Tensor::scalar(1.0, DType::f32);
    } else {
      out["loss_warp"] = mul(warp_term(o, num_stuff, t, r, flow, flow_valid), o.lambda_pixel);
      out["siam_warp_skipped"] = Tensor::scalar(0.0, DType::f32);
    }
  }
  if (o.enabled && o.tube) {
    // traceable segments in the panoptic targets: stuff by class, instances by track id, present in both
    std::vector<int64_t> pt = host_i64(t.pano_target), pr = host_i64(r.pano_target);
    std::set<int64_t> in_t(pt.begin(), pt.end()), in_r(pr.begin(), pr.end());
    std::vector<std::pair<int64_t, int64_t>> tubes;
    for (int64_t c = 0; c < num_stuff; ++c)
      if (in_t.count(c) && in_r.count(c)) tubes.push_back({c, c});
    for (size_t i = 0; i < t.track_ids.size(); ++i) {
      auto it = std::find(r.track_ids.begin(), r.track_ids.end(), t.track_ids[i]);
      if (it == r.track_ids.end()) continue;
      int64_t ci = num_stuff + int64_t(i), cj = num_stuff + int64_t(it - r.track_ids.begin());
      if (in_t.count(ci) && in_r.count(cj)) tubes.push_back({ci, cj});
    }
    out["loss_tube"] = mul(tube_matching_loss(t.pano_logits, r.pano_logits, t.pano_target, r.pano_target, tubes, kIgnore),
                           o.lambda_pixel);
    out["siam_n_tubes"] = Tensor::scalar(double(tubes.size()), DType::f32);
  }
}

}  // namespace vps::models
