#include "data/train_pairs.h"

#include <algorithm>
#include <numeric>

#include "data/image_tensor.h"
#include "layers/interpolate.h"
#include "tensor/check.h"

namespace vps::data {

namespace {

uint64_t mix(uint64_t x) {  // splitmix64
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}
uint64_t draw(uint64_t seed, uint64_t a, uint64_t b) { return mix(seed ^ mix(a ^ mix(b + 0x51ed27))); }

// Nearest-neighbour resize of an 8-bit plane (src = floor(dst * in / out), as cv2's INTER_NEAREST).
std::vector<uint8_t> resize_plane(const std::vector<uint8_t>& v, int w, int h, int W2, int H2) {
  std::vector<uint8_t> out(size_t(W2) * size_t(H2));
  for (int y = 0; y < H2; ++y)
    for (int x = 0; x < W2; ++x) {
      int sy = std::min(h - 1, int(int64_t(y) * h / H2)), sx = std::min(w - 1, int(int64_t(x) * w / W2));
      out[size_t(y) * size_t(W2) + size_t(x)] = v[size_t(sy) * size_t(w) + size_t(sx)];
    }
  return out;
}

void flip_plane(std::vector<uint8_t>& v, int w, int h, int channels) {
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w / 2; ++x)
      for (int c = 0; c < channels; ++c)
        std::swap(v[(size_t(y) * size_t(w) + size_t(x)) * size_t(channels) + size_t(c)],
                  v[(size_t(y) * size_t(w) + size_t(w - 1 - x)) * size_t(channels) + size_t(c)]);
}

}  // namespace

PairSampler::PairSampler(const CityscapesVps& ds, const PairOptions& opt) : ds_(ds), opt_(opt) {
  VPS_CHECK(!ds.frames().empty(), "PairSampler: the dataset split ", ds.split(), " has no labelled frames");
  VPS_CHECK(opt.scale > 0 && opt.scale <= 8 && opt.size_divisor >= 1 && !opt.ref_offsets.empty(),
            "PairSampler: scale must be in (0, 8], size_divisor >= 1 and ref_offsets non-empty");
}

models::Frame PairSampler::frame(size_t index, bool flip) const {
  const CvpsFrame& f = ds_.frames().at(index);
  CvpsSample s = ds_.load(index);
  int w = s.image.width, h = s.image.height;
  VPS_CHECK(!s.semantic.empty(), "PairSampler: frame ", f.name, " has no semantic GT (split ", ds_.split(), ")");
  std::vector<CvpsInstance> inst;
  for (auto& in : s.instances)
    if (!in.iscrowd && in.category_id >= 11 && in.category_id <= 18) inst.push_back(std::move(in));
  if (flip) {  // mmdet v1's RandomFlip: x1' = w - x2 - 1
    flip_plane(s.image.data8, w, h, s.image.channels);
    flip_plane(s.semantic, w, h, 1);
    for (auto& in : inst) {
      flip_plane(in.mask, w, h, 1);
      float x1 = in.box[0];
      in.box[0] = float(w) - in.box[2] - 1, in.box[2] = float(w) - x1 - 1;
    }
  }
  Tensor img = normalized_image(s.image, ds_.image_path(index));
  int W2 = w, H2 = h;
  if (opt_.scale != 1.0) {  // bilinear on the normalised image (VPSNet resizes the 8-bit one), nearest on labels
    W2 = std::max(1, int(double(w) * opt_.scale + 0.5)), H2 = std::max(1, int(double(h) * opt_.scale + 0.5));
    img = interpolate(img, {H2, W2}, InterpMode::bilinear, false);
    s.semantic = resize_plane(s.semantic, w, h, W2, H2);
    for (auto& in : inst) {
      in.mask = resize_plane(in.mask, w, h, W2, H2);
      for (auto& b : in.box) b = float(double(b) * opt_.scale);
    }
  }
  models::Frame out;
  out.image = pad_to_multiple(img, opt_.size_divisor).to(opt_.dtype).contiguous();
  out.img_h = H2, out.img_w = W2;
  out.image_id = f.name, out.video_id = f.video, out.frame_index = f.frame_index;
  std::vector<int64_t> sem(s.semantic.begin(), s.semantic.end());
  out.semantic = Tensor::from_vector<int64_t>(sem, {H2, W2});
  const int64_t G = int64_t(inst.size());
  std::vector<float> boxes;
  std::vector<int64_t> labels, ids;
  std::vector<uint8_t> masks;
  for (auto& in : inst) {
    boxes.insert(boxes.end(), in.box.begin(), in.box.end());
    labels.push_back(in.category_id - 10);
    ids.push_back(in.obj_id);
    masks.insert(masks.end(), in.mask.begin(), in.mask.end());
  }
  out.gt.boxes = Tensor::from_vector<float>(boxes, {G, 4});
  out.gt.labels = Tensor::from_vector<int64_t>(labels, {G});
  out.gt.track_ids = Tensor::from_vector<int64_t>(ids, {G});
  out.gt.masks = Tensor::from_vector<uint8_t>(masks, {G, H2, W2});
  out.gt.img_h = H2, out.gt.img_w = W2;
  return out;
}

models::Batch PairSampler::sample(int64_t step) const {
  VPS_CHECK(step >= 0, "PairSampler: negative step ", step);
  const size_t n = size();
  const uint64_t epoch = uint64_t(step) / n, pos = uint64_t(step) % n;
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t(0));
  for (size_t i = n; i > 1; --i) std::swap(order[i - 1], order[draw(opt_.seed, epoch, i) % i]);  // Fisher-Yates
  size_t index = order[pos];
  // reference: a labelled frame of the same video at one of ref_offsets (ranks), chosen at random
  const CvpsFrame& f = ds_.frames()[index];
  std::vector<size_t> cands;
  for (const CvpsVideo& v : ds_.videos())
    if (v.id == f.video)
      for (int off : opt_.ref_offsets) {
        int64_t r = int64_t(f.rank) + off;
        if (r >= 0 && r < int64_t(v.labelled.size())) cands.push_back(v.labelled[size_t(r)]);
      }
  size_t ref = cands.empty() ? index : cands[draw(opt_.seed, uint64_t(step), 1) % cands.size()];
  bool flip = opt_.flip && (draw(opt_.seed, uint64_t(step), 2) & 1);
  models::Batch b;
  b.frame = frame(index, flip);
  b.reference = frame(ref, flip);
  return b;
}

PrefetchingSampler::~PrefetchingSampler() {
  if (pending_.valid()) pending_.wait();
}

models::Batch PrefetchingSampler::get(int64_t step, int64_t next) {
  models::Batch b = (pending_.valid() && next_ == step) ? pending_.get() : s_.sample(step);
  if (pending_.valid()) pending_.wait();  // a stale prefetch (the caller jumped): let it finish
  next_ = next;
  const PairSampler* s = &s_;
  pending_ = std::async(std::launch::async, [s, n = next_] { return s->sample(n); });
  return b;
}

}  // namespace vps::data
