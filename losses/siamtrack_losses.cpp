#include "losses/siamtrack_losses.h"

#include <algorithm>
#include <set>

#include "autograd/grad_mode.h"
#include "layers/flow_ops.h"
#include "layers/interpolate.h"
#include "ops/ops.h"
#include "sample/sample.h"
#include "tensor/check.h"

namespace vps {

namespace {

void check_float(const char* op, const Tensor& t, const char* what) {
  VPS_CHECK(t.defined() && (t.dtype() == DType::f32 || t.dtype() == DType::f64), op, ": ", what,
            " must be float32 or float64, got ", t.defined() ? t.str() : std::string("an undefined tensor"));
}

std::string shape_of(const Tensor& t) { return t.defined() ? shape_str(t.shape()) : std::string("(undefined)"); }

// (n) int64 on `device` from a host list.
Tensor index_tensor(const std::vector<int64_t>& v, Device device) {
  return Tensor::from_vector<int64_t>(v, {int64_t(v.size())}).to(device);
}

// The two channel lists of (target channel, reference channel) pairs, each checked against its logits.
std::pair<std::vector<int64_t>, std::vector<int64_t>> split_channel_pairs(
    const std::vector<std::pair<int64_t, int64_t>>& pairs, int64_t ct, int64_t cr, const char* op, const char* what) {
  std::vector<int64_t> a_of, b_of;
  for (auto [a, b] : pairs) {
    VPS_CHECK(a >= 0 && a < ct && b >= 0 && b < cr, op, ": ", what, " (", a, ", ", b, ") outside the logits' ", ct,
              " and ", cr, " channels");
    a_of.push_back(a), b_of.push_back(b);
  }
  return {a_of, b_of};
}

}  // namespace

Tensor mask_pool(const Tensor& feats, const Tensor& masks) {
  check_float("mask_pool", feats, "feats");
  VPS_CHECK(feats.dim() == 4 && feats.size(0) == 1 && masks.defined() && masks.dim() == 3 &&
                masks.size(1) == feats.size(2) && masks.size(2) == feats.size(3),
            "mask_pool: feats ", shape_str(feats.shape()), " and masks ",
            shape_of(masks), " must be (1, D, h, w) and (S, h, w)");
  VPS_CHECK(masks.device() == feats.device(), "mask_pool: masks on ", masks.device().str(), ", feats on ",
            feats.device().str());
  const int64_t S = masks.size(0), D = feats.size(1), hw = feats.size(2) * feats.size(3);
  Tensor m = reshape(masks.to(feats.dtype()), {S, hw});
  Tensor sums = matmul(m, transpose(reshape(feats, {D, hw}), 0, 1));  // (S, D)
  Tensor count = clamp_min(sum(m, {1}, true), 1.0);
  return l2_normalize(div(sums, count), 1);
}

Tensor segment_contrastive_loss(const Tensor& z_t, const Tensor& z_r, double temperature) {
  check_float("segment_contrastive_loss", z_t, "z_t");
  check_float("segment_contrastive_loss", z_r, "z_r");
  VPS_CHECK(z_t.dim() == 2 && z_t.shape() == z_r.shape() && z_t.dtype() == z_r.dtype() && z_t.device() == z_r.device(),
            "segment_contrastive_loss: z_t ", z_t.str(), " and z_r ", z_r.str(),
            " must be (N, D) of one dtype and device");
  VPS_CHECK(temperature > 0, "segment_contrastive_loss: temperature must be > 0, got ", temperature);
  const int64_t N = z_t.size(0);
  if (N < 2) return mul(add(sum(z_t), sum(z_r)), 0.0);  // a zero in the graph, of the dtype and device
  Tensor z = cat({z_t, z_r}, 0);  // (2N, D)
  Tensor sim = div(matmul(z, transpose(z, 0, 1)), temperature);
  std::vector<uint8_t> eye(size_t(4 * N * N), 0);
  std::vector<int64_t> positive(size_t(2 * N));
  for (int64_t i = 0; i < 2 * N; ++i) eye[size_t(i * 2 * N + i)] = 1, positive[size_t(i)] = (i + N) % (2 * N);
  // the anchor leaves the denominator: a large negative logit (not -inf, whose max-subtraction is NaN)
  Tensor self = Tensor::from_vector<uint8_t>(eye, {2 * N, 2 * N}).to(z.device());
  Tensor logp = log_softmax(masked_fill(sim, self, -1e9), 1);
  Tensor pos = reshape(index_tensor(positive, z.device()), {2 * N, 1});
  return neg(mean(gather(logp, 1, pos)));
}

Tensor tube_matching_loss(const Tensor& logits_t, const Tensor& logits_r, const Tensor& target_t, const Tensor& target_r,
                          const std::vector<std::pair<int64_t, int64_t>>& tubes, int64_t ignore) {
  const char* op = "tube_matching_loss";
  check_float(op, logits_t, "logits_t");
  check_float(op, logits_r, "logits_r");
  auto check_frame = [&](const Tensor& l, const Tensor& t, const char* which) {
    VPS_CHECK(l.dim() == 4 && l.size(0) == 1 && t.defined() && t.dim() == 2 && t.size(0) == l.size(2) &&
                  t.size(1) == l.size(3),
              op, ": frame ", which, " logits ", shape_str(l.shape()), " and target ",
              shape_of(t), " must be (1, C, h, w) and (h, w)");
  };
  check_frame(logits_t, target_t, "t");
  check_frame(logits_r, target_r, "t+d");
  VPS_CHECK(logits_t.dtype() == logits_r.dtype() && logits_t.device() == logits_r.device(), op, ": logits ",
            logits_t.str(), " and ", logits_r.str(), " differ in dtype or device");
  const int64_t T = int64_t(tubes.size());
  if (T == 0) return mul(add(sum(logits_t), sum(logits_r)), 0.0);
  auto [ch_t, ch_r] = split_channel_pairs(tubes, logits_t.size(1), logits_r.size(1), op, "tube channels");
  const Device dev = logits_t.device();
  const DType dt = logits_t.dtype();
  Tensor num, den;
  auto frame = [&](const Tensor& logits, const Tensor& target, const std::vector<int64_t>& ch) {
    Tensor idx = index_tensor(ch, dev);
    Tensor p = index_select(select(softmax(logits, 1), 0, 0), 0, idx);          // (T, h, w)
    Tensor tg = unsqueeze(target.to(DType::i64).to(dev), 0);                     // (1, h, w)
    Tensor q = eq(tg, reshape(idx, {T, 1, 1})).to(dt);                           // (T, h, w)
    Tensor valid = ne(tg, double(ignore)).to(dt);                                // (1, h, w)
    Tensor n = sum(mul(mul(p, q), valid), {1, 2}), d = sum(mul(add(mul(p, p), q), valid), {1, 2});  // q^2 = q
    num = num.defined() ? add(num, n) : n;
    den = den.defined() ? add(den, d) : d;
  };
  frame(logits_t, target_t, ch_t);
  frame(logits_r, target_r, ch_r);
  Tensor dice = div(mul(num, 2.0), clamp_min(den, 1e-12));
  return mean(rsub(1.0, dice));
}

Tensor occlusion_map(const Tensor& image_t, const Tensor& image_r, const Tensor& flow, double alpha) {
  VPS_CHECK(image_t.defined() && image_r.defined() && flow.defined() && image_t.dim() == 4 && image_t.size(0) == 1 &&
                image_t.shape() == image_r.shape() && flow.dim() == 4 && flow.size(0) == 1 && flow.size(1) == 2 &&
                flow.size(2) == image_t.size(2) && flow.size(3) == image_t.size(3),
            "occlusion_map: images ", shape_of(image_t), ", ", shape_of(image_r), " and flow ", shape_of(flow),
            " must be (1, C, H, W) twice and (1, 2, H, W)");
  autograd::NoGradGuard ng;
  Tensor warped = resample2d(image_r, flow.to(image_r.dtype()).to(image_r.device()));
  return exp(mul(norm(sub(image_t, warped), {1}, true), -alpha));
}

Tensor downsample_flow(const Tensor& flow, int64_t h, int64_t w) {
  VPS_CHECK(flow.defined() && flow.dim() == 4 && flow.size(0) == 1 && flow.size(1) == 2 && h >= 1 && w >= 1,
            "downsample_flow: flow ", shape_of(flow), " must be (1, 2, H, W), the size ", h, "x", w, " positive");
  autograd::NoGradGuard ng;
  const double sx = double(w) / double(flow.size(3)), sy = double(h) / double(flow.size(2));
  Tensor f = interpolate(flow, {h, w}, InterpMode::nearest);
  Tensor scale = Tensor::from_vector<double>({sx, sy}, {1, 2, 1, 1}).to(flow.dtype()).to(flow.device());
  return mul(f, scale);
}

Tensor warp_loss(const Tensor& logits_t, const Tensor& logits_r, const std::vector<std::pair<int64_t, int64_t>>& channels,
                 const Tensor& flow, const Tensor& occlusion) {
  const char* op = "warp_loss";
  VPS_CHECK(logits_t.defined() && logits_r.defined() && logits_t.dim() == 4 && logits_t.size(0) == 1 &&
                logits_r.dim() == 4 && logits_r.size(0) == 1 && logits_r.size(2) == logits_t.size(2) &&
                logits_r.size(3) == logits_t.size(3),
            op, ": logits ", shape_of(logits_t), " and ", shape_of(logits_r), " must be (1, C, h, w) of one size");
  const int64_t h = logits_t.size(2), w = logits_t.size(3);
  VPS_CHECK(flow.defined() && occlusion.defined() && flow.shape() == (Shape{1, 2, h, w}) &&
                occlusion.shape() == (Shape{1, 1, h, w}),
            op, ": flow ", shape_of(flow), " and occlusion ", shape_of(occlusion), " must be (1, 2, ", h, ", ", w,
            ") and (1, 1, ", h, ", ", w, ")");
  if (channels.empty()) return mul(add(sum(logits_t), sum(logits_r)), 0.0);
  auto [ct, cr] = split_channel_pairs(channels, logits_t.size(1), logits_r.size(1), op, "channel pair");
  const Device dev = logits_t.device();
  auto pick = [&](const Tensor& l, const std::vector<int64_t>& c) { return index_select(l, 1, index_tensor(c, dev)); };
  Tensor f = flow.detach().to(logits_r.dtype()).to(dev), o = occlusion.detach().to(logits_t.dtype()).to(dev);
  Tensor warped = resample2d(pick(logits_r, cr), f);
  return mean(mul(o, norm(sub(pick(logits_t, ct), warped), {1}, true)));
}

// ---------------------------------------------------------------- the entry point

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
Tensor warp_term(const SiamTrackLossOptions& o, int64_t num_stuff, const SiamTrackFrame& t, const SiamTrackFrame& r,
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

void add_siamtrack_losses(std::map<std::string, Tensor>& out, const SiamTrackLossOptions& o, int64_t num_stuff,
                          int64_t num_classes, const SiamTrackFrame& t, const SiamTrackFrame& r, const Tensor& flow,
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

}  // namespace vps
