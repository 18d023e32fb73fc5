// Procedural driving-like video scenes for the synthetic Cityscapes-VPS set. Integer-only arithmetic
// and an own PRNG, so the same seed renders the same pixels on every machine and compiler.
#pragma once
#include <cstdint>
#include <vector>

#include "data/image_io.h"

namespace vps::data {

// splitmix64: small, fast, portable. uniform(lo, hi) is inclusive and uses only integer math.
class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed) {}
  uint64_t next();
  int uniform(int lo, int hi);
  bool chance(int percent) { return uniform(0, 99) < percent; }

 private:
  uint64_t s_;
};

// One rendered frame: RGB image (optional), semantic train ids (255 void) and object index per pixel
// (0 = no object; otherwise an index into SceneVideo::objects(), whose entry says class and crowd).
struct SceneFrame {
  Image rgb;
  std::vector<uint8_t> semantic;
  std::vector<uint16_t> object;
};

struct SceneObject {
  int category = 0;     // train id 11..18
  bool crowd = false;   // a crowd region (iscrowd=1, no instance id)
  int inst_id = 0;      // 1-based, video-consistent; 0 for crowd
};

class SceneVideo {
 public:
  // A random video of `width` x `height` and `frames` frames drawn from `seed`.
  SceneVideo(int width, int height, int frames, uint64_t seed);
  // Renders frame t (0-based). With_rgb=false skips the image (labels only).
  SceneFrame render(int t, bool with_rgb) const;
  // Entry 0 is a placeholder for "no object".
  const std::vector<SceneObject>& objects() const { return info_; }

 private:
  struct Block { int x0, x1, top, kind, shade; };     // roadside block: kind 0 building, 1 vegetation
  struct Pole { int x, w, top, bottom, sign; };  // sign: 0 none, 1 traffic sign, 2 unlabelled (void) board
  struct Thing { int cat, x0, vx, yb0, vyb, t_in, t_out, col, kind2; };  // x in 1/16 px; yb in 1/16 px
  struct Crowd { int x, yb, n, spread; };

  void draw_stuff(int t, SceneFrame& f, bool with_rgb) const;
  void draw_thing(const Thing& th, int obj, int t, SceneFrame& f, bool with_rgb) const;
  void draw_crowd(const Crowd& c, int obj, int t, SceneFrame& f, bool with_rgb) const;

  int w_, h_, frames_;
  int horizon_, vanish_x_, pan_, road_w_, walk_w_, hood_h_, speed_;
  uint32_t tex_seed_;
  std::vector<Block> blocks_;
  std::vector<Pole> poles_;
  std::vector<Thing> things_;
  std::vector<Crowd> crowds_;
  std::vector<SceneObject> info_;
};

}  // namespace vps::data
