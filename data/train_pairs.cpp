#include "data/train_pairs.h"

#include <algorithm>
#include <numeric>

#include "data/image_tensor.h"
#include "data/train_flow.h"
#include "layers/interpolate.h"
#include "ops/ops.h"
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
  VPS_CHECK(opt.scale_ratio_hi == 0 || (opt.scale_ratio_lo > 0 && opt.scale_ratio_lo <= opt.scale_ratio_hi &&
                                        opt.scale * opt.scale_ratio_hi <= 8),
            "PairSampler: scale ratio range [", opt.scale_ratio_lo, ", ", opt.scale_ratio_hi,
            "] must satisfy 0 < lo <= hi and scale * hi <= 8");
  VPS_CHECK(opt.crop_h >= 0 && opt.crop_w >= 0 && (opt.crop_h > 0) == (opt.crop_w > 0),
            "PairSampler: crop size ", opt.crop_h, "x", opt.crop_w, " must be two positive numbers (or both 0: no crop)");
}

struct PairSampler::Prepared {
  const CvpsFrame* f = nullptr;
  Tensor image;  // (1,3,H,W) normalised
  int H = 0, W = 0;
  std::vector<uint8_t> semantic;
  std::vector<CvpsInstance> inst;  // non-crowd things, boxes and masks at (H, W)
};

PairSampler::Prepared PairSampler::prepare(size_t index, bool flip, double scale) const {
  Prepared p;
  p.f = &ds_.frames().at(index);
  CvpsSample s = ds_.load(index);
  int w = s.image.width, h = s.image.height;
  VPS_CHECK(!s.semantic.empty(), "PairSampler: frame ", p.f->name, " has no semantic GT (split ", ds_.split(), ")");
  for (auto& in : s.instances)
    if (!in.iscrowd && in.category_id >= ds_.first_thing() && in.category_id <= ds_.last_thing())
      p.inst.push_back(std::move(in));
  if (flip) {  // mmdet v1's RandomFlip: x1' = w - x2 - 1
    flip_plane(s.image.data8, w, h, s.image.channels);
    flip_plane(s.semantic, w, h, 1);
    for (auto& in : p.inst) {
      flip_plane(in.mask, w, h, 1);
      float x1 = in.box[0];
      in.box[0] = float(w) - in.box[2] - 1, in.box[2] = float(w) - x1 - 1;
    }
  }
  p.image = normalized_image(s.image, ds_.image_path(index));
  p.W = w, p.H = h;
  if (scale != 1.0) {  // bilinear on the normalised image (VPSNet resizes the 8-bit one), nearest on labels
    p.W = std::max(1, int(double(w) * scale + 0.5)), p.H = std::max(1, int(double(h) * scale + 0.5));
    p.image = interpolate(p.image, {p.H, p.W}, InterpMode::bilinear, false);
    s.semantic = resize_plane(s.semantic, w, h, p.W, p.H);
    for (auto& in : p.inst) {
      in.mask = resize_plane(in.mask, w, h, p.W, p.H);
      for (auto& b : in.box) b = float(double(b) * scale);
    }
  }
  p.semantic = std::move(s.semantic);
  return p;
}

namespace {

// mmdet v1's RandomCrop on a box: shift by the window, clip to [0, size-1]; kept when non-empty.
bool crop_box(std::array<float, 4>& b, int64_t y0, int64_t x0, int64_t ch, int64_t cw) {
  const float lim[4] = {float(cw - 1), float(ch - 1), float(cw - 1), float(ch - 1)};
  const float off[4] = {float(x0), float(y0), float(x0), float(y0)};
  for (int k = 0; k < 4; ++k) b[size_t(k)] = std::min(std::max(b[size_t(k)] - off[k], 0.f), lim[k]);
  return b[2] > b[0] && b[3] > b[1];
}

std::vector<uint8_t> crop_plane(const std::vector<uint8_t>& v, int w, int64_t y0, int64_t x0, int64_t ch, int64_t cw) {
  std::vector<uint8_t> out(size_t(ch * cw));
  for (int64_t y = 0; y < ch; ++y)
    std::copy_n(v.begin() + (y0 + y) * w + x0, cw, out.begin() + y * cw);
  return out;
}

}  // namespace

Frame PairSampler::finish(Prepared p, const CropWindow& c) const {
  int H2 = p.H, W2 = p.W;
  if (c.h > 0) {
    const int64_t y0 = c.y, x0 = c.x, ch = std::min<int64_t>(c.h, p.H), cw = std::min<int64_t>(c.w, p.W);
    p.image = slice(slice(p.image, 2, y0, y0 + ch), 3, x0, x0 + cw);
    p.semantic = crop_plane(p.semantic, p.W, y0, x0, ch, cw);
    std::vector<CvpsInstance> kept;
    for (auto& in : p.inst)
      if (crop_box(in.box, y0, x0, ch, cw)) {
        in.mask = crop_plane(in.mask, p.W, y0, x0, ch, cw);
        kept.push_back(std::move(in));
      }
    p.inst = std::move(kept);
    H2 = int(ch), W2 = int(cw);
  }
  Frame out;
  out.image = pad_to_multiple(p.image, opt_.size_divisor).to(opt_.dtype).contiguous();
  out.img_h = H2, out.img_w = W2;
  out.image_id = p.f->name, out.video_id = p.f->video, out.frame_index = p.f->frame_index;
  std::vector<int64_t> sem(p.semantic.begin(), p.semantic.end());
  out.semantic = Tensor::from_vector<int64_t>(sem, {H2, W2});
  const int64_t G = int64_t(p.inst.size());
  std::vector<float> boxes;
  std::vector<int64_t> labels, ids;
  std::vector<uint8_t> masks;
  for (auto& in : p.inst) {
    boxes.insert(boxes.end(), in.box.begin(), in.box.end());
    labels.push_back(in.category_id - ds_.first_thing() + 1);
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

Frame PairSampler::frame(size_t index, bool flip) const {
  return finish(prepare(index, flip, opt_.scale), CropWindow{});
}

Batch PairSampler::sample(int64_t step) const {
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
  const uint64_t s = uint64_t(step);
  size_t ref = cands.empty() ? index : cands[draw(opt_.seed, s, 1) % cands.size()];
  bool flip = opt_.flip && (draw(opt_.seed, s, 2) & 1);
  double scale = opt_.scale;
  if (opt_.scale_ratio_hi > 0) {  // uniform in [lo, hi] from 53 random bits
    double u = double(draw(opt_.seed, s, 3) >> 11) * 0x1.0p-53;
    scale *= opt_.scale_ratio_lo + u * (opt_.scale_ratio_hi - opt_.scale_ratio_lo);
  }
  Prepared target = prepare(index, flip, scale), reference = prepare(ref, flip, scale);
  CropWindow win{0, 0, opt_.crop_h, opt_.crop_w};
  if (win.h > 0) {
    const int64_t mh = std::max<int64_t>(target.H - opt_.crop_h, 0), mw = std::max<int64_t>(target.W - opt_.crop_w, 0);
    const int64_t ch = std::min<int64_t>(opt_.crop_h, target.H), cw = std::min<int64_t>(opt_.crop_w, target.W);
    VPS_CHECK(reference.H == target.H && reference.W == target.W, "PairSampler: frames ", target.f->name, " (",
              target.W, "x", target.H, ") and ", reference.f->name, " (", reference.W, "x", reference.H,
              ") of one pair differ in size; the crop needs one window for both");
    for (uint64_t attempt = 0; attempt < 10; ++attempt) {
      win.y = int64_t(draw(opt_.seed, s, 4 + 2 * attempt) % uint64_t(mh + 1));
      win.x = int64_t(draw(opt_.seed, s, 5 + 2 * attempt) % uint64_t(mw + 1));
      bool keeps = target.inst.empty();
      for (const CvpsInstance& in : target.inst) {
        std::array<float, 4> b = in.box;
        keeps = keeps || crop_box(b, win.y, win.x, ch, cw);
      }
      if (keeps) break;
    }
  }
  Batch b;
  if (!opt_.flow_dir.empty()) b = with_flow(target, reference, flip, win);
  b.frame = finish(std::move(target), win);
  b.reference = finish(std::move(reference), win);
  return b;
}

// The pair's flow on the target's padded grid: flipped and resized like the images, cropped by the same
// window, zero-padded (valid 0 there). A frame paired with itself has the zero flow, all valid.
Batch PairSampler::with_flow(const Prepared& target, const Prepared& ref, bool flip, const CropWindow& c) const {
  TrainingFlow tf;
  if (target.f == ref.f) {
    tf.flow = Tensor::zeros({1, 2, target.H, target.W});
    tf.valid = Tensor::ones({1, 1, target.H, target.W});
  } else {
    tf = load_training_flow(opt_.flow_dir, target.f->image_file, ref.f->image_file, target.f->height,
                            target.f->width, flip, target.H, target.W);
  }
  if (c.h > 0) {
    const int64_t ch = std::min<int64_t>(c.h, target.H), cw = std::min<int64_t>(c.w, target.W);
    tf.flow = slice(slice(tf.flow, 2, c.y, c.y + ch), 3, c.x, c.x + cw);
    tf.valid = slice(slice(tf.valid, 2, c.y, c.y + ch), 3, c.x, c.x + cw);
  }
  Batch b;
  b.flow = pad_to_multiple(tf.flow, opt_.size_divisor).to(opt_.dtype).contiguous();
  b.flow_valid = pad_to_multiple(tf.valid, opt_.size_divisor).to(opt_.dtype).contiguous();
  return b;
}

PrefetchingSampler::~PrefetchingSampler() {
  if (pending_.valid()) pending_.wait();
}

Batch PrefetchingSampler::get(int64_t step, int64_t next) {
  Batch b = (pending_.valid() && next_ == step) ? pending_.get() : s_.sample(step);
  if (pending_.valid()) pending_.wait();  // a stale prefetch (the caller jumped): let it finish
  next_ = next;
  const PairSampler* s = &s_;
  pending_ = std::async(std::launch::async, [s, n = next_] { return s->sample(n); });
  return b;
}

}  // namespace vps::data
