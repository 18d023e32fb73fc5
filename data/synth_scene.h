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

// Options for SiamTrack's ablation data (issue #15); the defaults render today's scenes byte for byte.
struct SceneOptions {
  bool camera_motion = false;  // a faster camera pan that also moves the objects (they stand in the world)
  bool crossing = false;       // adds two objects whose paths cross mid-video, the nearer one occluding
};

struct SceneObject {
  int category = 0;     // train id 11..18
  bool crowd = false;   // a crowd region (iscrowd=1, no instance id)
  int inst_id = 0;      // 1-based, video-consistent; 0 for crowd
};

class SceneVideo {
 public:
  // A random video of `width` x `height` and `frames` frames drawn from `seed`.
  SceneVideo(int width, int height, int frames, uint64_t seed, const SceneOptions& opt = {});
  // Renders frame t (0-based). With_rgb=false skips the image (labels only).
  SceneFrame render(int t, bool with_rgb) const;
  // The exact forward flow of frame t to frame r (data/flow_io.h's convention, pixel centres at integers):
  // flow (2, H, W) row-major dx then dy, valid (H * W) 1 where the target pixel's surface is visible at
  // the nearest reference pixel, 0 where it is occluded, leaves the image or is gone. ft and fr are
  // render(t) and render(r) (labels suffice). data/synth_flow.cpp says how each surface moves.
  void forward_flow(int t, const SceneFrame& ft, int r, const SceneFrame& fr, std::vector<float>* flow,
                    std::vector<uint8_t>* valid) const;
  // Entry 0 is a placeholder for "no object".
  const std::vector<SceneObject>& objects() const { return info_; }

 private:
  struct Block { int x0, x1, top, kind, shade; };     // roadside block: kind 0 building, 1 vegetation
  struct Pole { int x, w, top, bottom, sign; };  // sign: 0 none, 1 traffic sign, 2 unlabelled (void) board
  struct Thing { int cat, x0, vx, yb0, vyb, t_in, t_out, col, kind2; };  // x in 1/16 px; yb in 1/16 px
  struct Crowd { int x, yb, n, spread; };

  struct Box { int cx, yb, w, h, phase; };  // a thing's box at one frame: centre x, bottom y, size, leg phase

  int cam(int t) const { return pan_ * t / 16; }  // world x of image column 0 at frame t
  bool thing_box_at(const Thing& th, int t, Box* b) const;  // false when the thing is not drawn at t
  int hood_rows(int x) const;                          // rows of the ego hood at the bottom of column x
  void add_crossing_pair(uint64_t seed);
  void draw_stuff(int t, SceneFrame& f, bool with_rgb) const;
  void draw_thing(const Thing& th, int obj, int t, SceneFrame& f, bool with_rgb) const;
  void draw_crowd(const Crowd& c, int obj, int t, SceneFrame& f, bool with_rgb) const;

  int w_, h_, frames_;
  int horizon_, vanish_x_, pan_, road_w_, walk_w_, hood_h_, speed_;
  bool world_things_ = false;  // things move with the camera (SceneOptions::camera_motion)
  uint32_t tex_seed_;
  std::vector<Block> blocks_;
  std::vector<Pole> poles_;
  std::vector<Thing> things_;
  std::vector<Crowd> crowds_;
  std::vector<SceneObject> info_;
};

}  // namespace vps::data
