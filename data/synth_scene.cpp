#include "data/synth_scene.h"

#include <algorithm>
#include <cstdlib>

#include "tensor/check.h"

namespace vps::data {

uint64_t Rng::next() {
  uint64_t z = (s_ += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

int Rng::uniform(int lo, int hi) {
  if (hi <= lo) return lo;
  return lo + int(next() % uint64_t(int64_t(hi) - lo + 1));
}

namespace {

inline uint32_t hash3(uint32_t a, uint32_t b, uint32_t c) {
  uint32_t h = a * 0x9E3779B1u ^ (b + 0x7F4A7C15u) * 0x85EBCA77u ^ (c + 0x165667B1u) * 0xC2B2AE3Du;
  h ^= h >> 15;
  h *= 0x2C1B3C6Du;
  h ^= h >> 12;
  h *= 0x297A2D39u;
  h ^= h >> 15;
  return h;
}
inline uint8_t clamp8(int v) { return uint8_t(v < 0 ? 0 : v > 255 ? 255 : v); }
inline void put(uint8_t* p, int r, int g, int b, int noise) {
  p[0] = clamp8(r + noise);
  p[1] = clamp8(g + noise);
  p[2] = clamp8(b + noise);
}
inline int noise(uint32_t h, int amp) { return int(h % uint32_t(2 * amp + 1)) - amp; }
// Inside an axis-aligned ellipse centred (cx, cy) with radii (rx, ry), all in pixels.
inline bool in_ellipse(int x, int y, int cx, int cy, int rx, int ry) {
  if (rx <= 0 || ry <= 0) return false;
  int64_t dx = x - cx, dy = y - cy;
  return dx * dx * ry * ry + dy * dy * rx * rx <= int64_t(rx) * rx * ry * ry;
}

constexpr int kPerson = 11, kRider = 12, kCar = 13, kTruck = 14;

}  // namespace

SceneVideo::SceneVideo(int width, int height, int frames, uint64_t seed, const SceneOptions& opt)
    : w_(width), h_(height), frames_(frames), world_things_(opt.camera_motion) {
  VPS_CHECK(width >= 32 && height >= 32 && frames >= 1, "synthetic scene: size ", width, "x", height, " and ",
            frames, " frames are too small (need >= 32x32 and >= 1 frame)");
  Rng rng(seed);
  horizon_ = h_ * 40 / 100 + rng.uniform(-h_ / 20, h_ / 20);
  vanish_x_ = w_ / 2 + rng.uniform(-w_ / 10, w_ / 10);
  pan_ = rng.uniform(-w_ * 16 / 150, w_ * 16 / 150);  // camera pan, 1/16 px per frame
  if (opt.camera_motion) pan_ = (pan_ < 0 ? -1 : 1) * (w_ * 16 / 80 + std::abs(pan_));  // no draw: same sequence
  road_w_ = w_ * rng.uniform(30, 42) / 100;
  walk_w_ = road_w_ + w_ * rng.uniform(12, 22) / 100;
  hood_h_ = h_ * rng.uniform(6, 10) / 100;
  speed_ = rng.uniform(2, 6);
  tex_seed_ = uint32_t(rng.next());
  int span = h_ - horizon_;
  int cam_min = std::min(0, pan_ * frames_ / 16) - w_, cam_max = std::max(0, pan_ * frames_ / 16) + 2 * w_;
  for (int x = cam_min; x < cam_max;) {
    Block b;
    b.x0 = x;
    b.x1 = x + rng.uniform(w_ / 10, w_ / 4) + 1;
    b.kind = rng.chance(30) ? 1 : 0;
    b.top = horizon_ - rng.uniform(horizon_ / 5, horizon_ * 4 / 5);
    b.shade = rng.uniform(60, 140);
    blocks_.push_back(b);
    x = b.x1;
    if (rng.chance(40)) {
      Pole p;
      p.x = b.x0 + rng.uniform(0, b.x1 - b.x0 - 1);
      p.w = std::max(1, w_ / 256 + rng.uniform(0, 1));
      p.top = horizon_ - rng.uniform(horizon_ / 4, horizon_ / 2);
      p.bottom = horizon_ + span / 6;
      p.sign = rng.uniform(0, 2);
      poles_.push_back(p);
    }
  }
  info_.push_back(SceneObject{});
  int n = rng.uniform(3, 7);
  for (int i = 0; i < n; ++i) {
    Thing th;
    int r = rng.uniform(0, 99);
    th.cat = r < 45 ? kCar : r < 75 ? kPerson : r < 92 ? kRider : kTruck;
    th.yb0 = 16 * (horizon_ + rng.uniform(span / 8, span * 11 / 10));
    th.vyb = rng.uniform(-span * 16 / 60, span * 16 / 60);
    th.t_in = 0;
    th.t_out = frames_ - 1;
    int mode = rng.uniform(0, 2);
    if (mode == 1) {  // enters from one side, may leave at the other
      bool left = rng.chance(50);
      int v = rng.uniform(w_ * 16 / (2 * frames_) + 1, w_ * 16 * 3 / (2 * frames_) + 1);
      th.x0 = 16 * (left ? -w_ / 8 : w_ + w_ / 8);
      th.vx = left ? v : -v;
    } else {
      th.x0 = 16 * rng.uniform(w_ / 10, w_ * 9 / 10);
      th.vx = rng.uniform(-w_ * 16 / (4 * frames_), w_ * 16 / (4 * frames_));
      if (mode == 2) {  // appears and disappears inside the frame (e.g. behind something)
        th.t_in = rng.uniform(0, frames_ / 2);
        th.t_out = rng.uniform(std::min(frames_ - 1, th.t_in + frames_ / 4), frames_ - 1);
      }
    }
    th.col = int(rng.next() & 0xFFFFFF);
    th.kind2 = rng.uniform(0, 7);
    things_.push_back(th);
    info_.push_back(SceneObject{th.cat, false, i + 1});
  }
  // Own generator, so that the draws above (and the crowd below) stay those of the default scene.
  if (opt.crossing) add_crossing_pair(seed ^ 0xC2B2AE3D27D4EB4Full);
  if (rng.chance(60)) {  // a crowd of distant people on one side of the road
    Crowd c;
    bool left = rng.chance(50);
    c.x = left ? rng.uniform(0, w_ / 4) : rng.uniform(w_ * 3 / 4, w_ - 1);
    c.yb = horizon_ + span / 10 + rng.uniform(0, span / 20);
    c.n = rng.uniform(4, 8);
    c.spread = std::max(4, w_ / 12);
    crowds_.push_back(c);
    info_.push_back(SceneObject{kPerson, true, 0});
  }
}

// Two objects at nearly the same depth that start on opposite sides and meet in the middle of the video
// (drawn far to near, so the nearer one covers the other while they pass).
void SceneVideo::add_crossing_pair(uint64_t seed) {
  Rng rng(seed);
  int span = h_ - horizon_, meet = frames_ / 2, xm = 16 * rng.uniform(w_ * 3 / 10, w_ * 7 / 10);
  int yb = 16 * (horizon_ + rng.uniform(span / 2, span * 8 / 10));
  int v = std::max(16, w_ * 16 / std::max(1, frames_));  // about one image width over the video
  for (int k = 0; k < 2; ++k) {
    Thing th;
    th.cat = k == 0 ? (rng.chance(50) ? kCar : kTruck) : (rng.chance(50) ? kPerson : kRider);
    th.vx = k == 0 ? v : -v * 3 / 4;
    th.x0 = xm - th.vx * meet;
    th.yb0 = yb + (k == 0 ? 0 : 16 * std::max(2, span / 10));  // the second one is a little nearer
    th.vyb = 0;
    th.t_in = 0;
    th.t_out = frames_ - 1;
    th.col = int(rng.next() & 0xFFFFFF);
    th.kind2 = rng.uniform(0, 7);
    things_.push_back(th);
    info_.push_back(SceneObject{th.cat, false, int(things_.size())});
  }
}

int SceneVideo::hood_rows(int x) const {
  int64_t hdx = x - w_ / 2, half = w_ / 2;
  return hood_h_ - int(int64_t(hood_h_) * hdx * hdx * 6 / (10 * half * half));
}

void SceneVideo::draw_stuff(int t, SceneFrame& f, bool with_rgb) const {
  int cam = this->cam(t), span = h_ - horizon_;
  std::vector<int> top(w_), kind(w_), shade(w_), pole(w_, -1);
  for (int x = 0; x < w_; ++x) {
    int wx = x + cam;
    auto it = std::upper_bound(blocks_.begin(), blocks_.end(), wx, [](int v, const Block& b) { return v < b.x1; });
    const Block& b = it == blocks_.end() ? blocks_.back() : *it;
    kind[x] = b.kind;
    shade[x] = b.shade;
    top[x] = b.top - (b.kind == 1 ? int(hash3(uint32_t(wx / 6), 7, tex_seed_) % uint32_t(h_ / 20 + 1)) : 0);
    for (size_t p = 0; p < poles_.size(); ++p)
      if (wx >= poles_[p].x && wx < poles_[p].x + poles_[p].w) pole[x] = int(p);
  }
  int sign_w = std::max(3, w_ / 60), sign_h = std::max(3, h_ / 25);
  for (int y = 0; y < h_; ++y) {
    for (int x = 0; x < w_; ++x) {
      size_t i = size_t(y) * w_ + x;
      int wx = x + cam, dy = y - horizon_, dxv = std::abs(x - vanish_x_);
      uint32_t hn = hash3(uint32_t(wx), uint32_t(y), tex_seed_);
      uint8_t* p = with_rgb ? f.rgb.px(x, y) : nullptr;
      uint8_t s;
      int hood = hood_rows(x);
      // Unlabelled boards: the back of a sign beside some poles (void).
      int board = -1;
      for (size_t q = 0; q < poles_.size() && board < 0; ++q) {
        const Pole& pl = poles_[q];
        if (pl.sign && wx >= pl.x && wx < pl.x + sign_w && y >= pl.top && y < pl.top + sign_h) board = pl.sign;
      }
      if (y >= h_ - hood) {
        s = 255;
        if (p) put(p, 25, 25, 35, noise(hn, 3));
      } else if (board >= 0) {
        s = board == 1 ? 7 : 255;
        if (p) board == 1 ? put(p, 220, 200, 30, noise(hn, 6)) : put(p, 90, 90, 95, noise(hn, 4));
      } else if (pole[x] >= 0 && y >= poles_[pole[x]].top && y < poles_[pole[x]].bottom) {
        s = 5;
        if (p) put(p, 125, 125, 130, noise(hn, 5));
      } else if (dy > 0 && int64_t(dxv) * span <= int64_t(road_w_) * dy) {
        s = 0;
        if (p) {
          int z = span * 64 / dy + speed_ * t * 4;
          bool lane = int64_t(dxv) * span * 60 <= int64_t(w_) * dy && (z / 16) % 2 == 0;
          uint32_t hr = hash3(uint32_t(x), uint32_t(y + speed_ * t), tex_seed_ + 1);
          lane ? put(p, 215, 215, 210, noise(hr, 6)) : put(p, 82, 78, 84, noise(hr, 10));
        }
      } else if (dy > 0 && int64_t(dxv) * span <= int64_t(walk_w_) * dy) {
        s = 1;
        if (p) {
          int tile = std::max(3, dy / 6 + 2);
          bool line = (wx % tile) == 0 || (y % tile) == 0;
          put(p, line ? 130 : 175, line ? 115 : 150, line ? 125 : 165, noise(hn, 6));
        }
      } else if (dy > 0) {
        s = 9;
        if (p) put(p, 150, 175, 95, noise(hash3(uint32_t(wx / 3), uint32_t(y / 3), tex_seed_ + 2), 14));
      } else if (y >= top[x]) {
        if (kind[x] == 1) {
          s = 8;
          if (p) {
            uint32_t hb = hash3(uint32_t(wx / 4), uint32_t(y / 4), tex_seed_ + 3);
            put(p, 45 + int(hb % 30), 95 + int((hb >> 8) % 60), 35 + int((hb >> 16) % 20), noise(hn, 5));
          }
        } else {
          s = 2;
          if (p) {
            int cell = std::max(4, h_ / 40);
            int gx = ((wx % cell) + cell) % cell, gy = y % cell;
            bool win = gx >= cell / 4 && gx < 3 * cell / 4 && gy >= cell / 4 && gy < 3 * cell / 4;
            bool lit = win && hash3(uint32_t(wx / cell), uint32_t(y / cell), tex_seed_ + 4) % 5 == 0;
            if (win) put(p, lit ? 200 : 45, lit ? 190 : 55, lit ? 120 : 75, noise(hn, 4));
            else put(p, shade[x], shade[x], shade[x] + 12, noise(hn, 7));
          }
        }
      } else {
        s = 10;
        if (p) {
          int k = horizon_ > 0 ? y * 64 / horizon_ : 0;
          put(p, 90 + k, 140 + k, 200 + k / 2, noise(hn, 2));
        }
      }
      f.semantic[i] = s;
    }
  }
}

// Shape test in box-local coordinates (u, v) of a w x h box; returns a colour code (0 = outside).
static int shape_at(int cat, int u, int v, int w, int h, int phase) {
  auto pu = [&](int pct) { return w * pct / 100; };
  auto pv = [&](int pct) { return h * pct / 100; };
  switch (cat) {
    case kCar: {
      if (v < pv(40)) return (u >= pu(20) && u < pu(75)) ? (v > pv(10) && u > pu(24) && u < pu(71) ? 2 : 1) : 0;
      if (v < pv(55) && (u < pu(5) || u >= pu(95))) return 0;
      bool wheel = v >= pv(80) && ((u >= pu(10) && u < pu(28)) || (u >= pu(70) && u < pu(88)));
      return wheel ? 3 : 1;
    }
    case kTruck:
      if (u < pu(70)) return v >= pv(5) ? 1 : 0;
      return v >= pv(30) ? (v < pv(55) && u > pu(75) ? 2 : 4) : 0;
    case kPerson: {
      if (in_ellipse(u, v, w / 2, pv(9), pu(30), pv(9))) return 5;
      if (v >= pv(18) && v < pv(58) && u >= pu(15) && u < pu(85)) return 1;
      if (v >= pv(58)) {
        int l0 = pu(20) + phase, r0 = pu(55) - phase;
        if ((u >= l0 && u < l0 + pu(25)) || (u >= r0 && u < r0 + pu(25))) return 3;
      }
      return 0;
    }
    case kRider: {
      if (in_ellipse(u, v, w / 2, pv(8), pu(18), pv(8))) return 5;
      if (v >= pv(15) && v < pv(55) && u >= pu(28) && u < pu(72)) return 1;
      if (in_ellipse(u, v, pu(20), pv(84), pu(18), pv(15)) || in_ellipse(u, v, pu(80), pv(84), pu(18), pv(15)))
        return 3;
      if (v >= pv(55) && v < pv(72) && u >= pu(20) && u < pu(80)) return 4;
      return 0;
    }
  }
  return 0;
}

static void thing_box(int cat, int s1024, int w, int h, int* bw, int* bh) {
  int64_t s = s1024;
  switch (cat) {
    case kCar: *bw = int(w * s * 24 / (1024 * 100)); *bh = *bw * 45 / 100; break;
    case kTruck: *bw = int(w * s * 32 / (1024 * 100)); *bh = *bw * 70 / 100; break;
    case kPerson: *bh = int(h * s * 40 / (1024 * 100)); *bw = *bh * 35 / 100; break;
    default: *bh = int(h * s * 42 / (1024 * 100)); *bw = *bh * 55 / 100; break;
  }
}

static void paint_shape(int cat, int cx, int yb, int bw, int bh, int phase, int col, uint32_t seed, int obj,
                        SceneFrame& f, bool with_rgb) {
  int W = f.rgb.width, H = f.rgb.height;
  int x0 = cx - bw / 2, y0 = yb - bh;
  for (int y = std::max(0, y0); y < std::min(H, yb); ++y)
    for (int x = std::max(0, x0); x < std::min(W, x0 + bw); ++x) {
      int code = shape_at(cat, x - x0, y - y0, bw, bh, phase);
      if (!code) continue;
      size_t i = size_t(y) * W + x;
      f.semantic[i] = uint8_t(cat);
      f.object[i] = uint16_t(obj);
      if (!with_rgb) continue;
      int n = noise(hash3(uint32_t(x), uint32_t(y), seed), 6);
      int r = col & 255, g = (col >> 8) & 255, b = (col >> 16) & 255;
      uint8_t* p = f.rgb.px(x, y);
      if (code == 2) put(p, 40, 60, 85, n);
      else if (code == 3) put(p, 25, 25, 30, n);
      else if (code == 4) put(p, r / 2 + 60, g / 2 + 60, b / 2 + 60, n);
      else if (code == 5) put(p, 215, 175, 145, n);
      else put(p, r, g, b, n);
    }
}

bool SceneVideo::thing_box_at(const Thing& th, int t, Box* b) const {
  if (t < th.t_in || t > th.t_out) return false;
  b->cx = (th.x0 + th.vx * t) / 16 - (world_things_ ? cam(t) : 0);
  b->yb = (th.yb0 + th.vyb * t) / 16;
  if (b->yb <= horizon_ + 2) return false;
  thing_box(th.cat, (b->yb - horizon_) * 1024 / (h_ - horizon_), w_, h_, &b->w, &b->h);
  if (b->w < 2 || b->h < 3) return false;
  b->phase = ((t * 3 + th.kind2) % 8 - 4) * b->w / 40;
  return true;
}

void SceneVideo::draw_thing(const Thing& th, int obj, int t, SceneFrame& f, bool with_rgb) const {
  Box b;
  if (thing_box_at(th, t, &b))
    paint_shape(th.cat, b.cx, b.yb, b.w, b.h, b.phase, th.col, tex_seed_ + uint32_t(obj), obj, f, with_rgb);
}

void SceneVideo::draw_crowd(const Crowd& c, int obj, int t, SceneFrame& f, bool with_rgb) const {
  int cam = this->cam(t);
  for (int k = 0; k < c.n; ++k) {
    uint32_t hk = hash3(uint32_t(k), 99, tex_seed_);
    int cx = c.x - cam + int(hk % uint32_t(2 * c.spread + 1)) - c.spread;
    int yb = c.yb + int((hk >> 10) % 3);
    int bw, bh;
    thing_box(kPerson, (yb - horizon_) * 1024 / (h_ - horizon_), w_, h_, &bw, &bh);
    bw = std::max(bw, 2);
    bh = std::max(bh, 4);
    paint_shape(kPerson, cx, yb, bw, bh, 0, int(hk >> 8) & 0xFFFFFF, tex_seed_ + 77, obj, f, with_rgb);
  }
}

SceneFrame SceneVideo::render(int t, bool with_rgb) const {
  VPS_CHECK(t >= 0 && t < frames_, "synthetic scene: frame ", t, " out of range [0, ", frames_, ")");
  SceneFrame f;
  f.rgb = with_rgb ? Image::make(w_, h_, 3) : Image{};
  f.rgb.width = w_;
  f.rgb.height = h_;
  f.semantic.assign(size_t(w_) * h_, 255);
  f.object.assign(size_t(w_) * h_, 0);
  draw_stuff(t, f, with_rgb);
  int first_crowd = int(things_.size()) + 1;
  for (size_t c = 0; c < crowds_.size(); ++c) draw_crowd(crowds_[c], first_crowd + int(c), t, f, with_rgb);
  // Far objects first so that nearer ones occlude them (ties broken by index: deterministic).
  std::vector<int> order(things_.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = int(i);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
    return things_[a].yb0 + things_[a].vyb * t < things_[b].yb0 + things_[b].vyb * t;
  });
  for (int i : order) draw_thing(things_[i], i + 1, t, f, with_rgb);
  // The ego-vehicle hood stays on top of everything.
  for (int x = 0; x < w_; ++x) {
    for (int y = std::max(0, h_ - hood_rows(x)); y < h_; ++y) {
      size_t i = size_t(y) * w_ + x;
      f.semantic[i] = 255;
      f.object[i] = 0;
      if (with_rgb) put(f.rgb.px(x, y), 25, 25, 35, noise(hash3(uint32_t(x), uint32_t(y), tex_seed_), 3));
    }
  }
  return f;
}

}  // namespace vps::data
