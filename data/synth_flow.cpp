// The synthetic scenes' exact forward flow. Every surface moves by a rule of the renderer
// (data/synth_scene.cpp), so the flow of a target pixel is the motion of whatever is drawn there:
//   ego hood: fixed to the camera, flow 0;
//   road: its noise texture scrolls by `speed` rows per frame (hash of (x, y + speed * t)), flow (0,
//     speed * (t - r)); its lane marks follow a perspective rule instead, so warping errs on them;
//   everything else of the background (buildings, vegetation, sky, sidewalk, terrain, poles, signs) and
//     the crowd: world-fixed, seen by the panning camera, flow (cam(t) - cam(r), 0), whole pixels;
//   a thing: the affine map of its box at t onto its box at r (it moves and scales with depth).
// The rendering noise of things and crowds is fixed to the image, not to the object, so warping
// reproduces their colours only up to that noise (tests/test_synth_flow.cpp measures it).
// A pixel is valid when the nearest reference pixel to where it goes lies in the image and shows the
// same surface (the same object; for the background the same class, hood or not): otherwise it is
// covered by a nearer object, has left the image, or its object is not drawn at r.
#include <cmath>

#include "data/synth_scene.h"
#include "tensor/check.h"

namespace vps::data {

void SceneVideo::forward_flow(int t, const SceneFrame& ft, int r, const SceneFrame& fr, std::vector<float>* flow,
                              std::vector<uint8_t>* valid) const {
  VPS_CHECK(t >= 0 && t < frames_ && r >= 0 && r < frames_, "synthetic flow: frames ", t, " -> ", r,
            " out of range [0, ", frames_, ")");
  const size_t n = size_t(w_) * size_t(h_);
  VPS_CHECK(ft.object.size() == n && fr.object.size() == n && ft.semantic.size() == n && fr.semantic.size() == n,
            "synthetic flow: frames ", t, " and ", r, " must be rendered at ", w_, "x", h_);
  flow->assign(2 * n, 0.f);
  valid->assign(n, 0);
  const int pan = cam(t) - cam(r), roll = speed_ * (t - r);
  // Per thing: its box at t and r (present[o] false when it is not drawn in one of the two frames).
  std::vector<Box> bt(info_.size()), br(info_.size());
  std::vector<bool> present(info_.size(), false);
  for (size_t i = 0; i < things_.size(); ++i)
    present[i + 1] = thing_box_at(things_[i], t, &bt[i + 1]) && thing_box_at(things_[i], r, &br[i + 1]);
  auto in_hood = [&](int x, int y) { return y >= h_ - hood_rows(x); };
  for (int y = 0; y < h_; ++y)
    for (int x = 0; x < w_; ++x) {
      const size_t i = size_t(y) * size_t(w_) + size_t(x);
      const int o = ft.object[i];
      const bool hood = o == 0 && in_hood(x, y);
      double dx = 0, dy = 0;
      if (o > 0 && size_t(o) <= things_.size()) {
        if (!present[size_t(o)]) continue;  // not drawn at r: no flow, invalid
        const Box &a = bt[size_t(o)], &b = br[size_t(o)];
        double sx = double(b.w) / a.w, sy = double(b.h) / a.h;
        dx = (b.cx - b.w / 2) + (x - (a.cx - a.w / 2) + 0.5) * sx - 0.5 - x;
        dy = (b.yb - b.h) + (y - (a.yb - a.h) + 0.5) * sy - 0.5 - y;
      } else if (hood) {
      } else if (o == 0 && ft.semantic[i] == 0) {
        dy = roll;
      } else {
        dx = pan;
      }
      (*flow)[i] = float(dx);
      (*flow)[n + i] = float(dy);
      const double xr = x + dx, yr = y + dy;
      if (xr < 0 || yr < 0 || xr > w_ - 1 || yr > h_ - 1) continue;
      const int xi = int(std::floor(xr + 0.5)), yi = int(std::floor(yr + 0.5));
      const size_t j = size_t(yi) * size_t(w_) + size_t(xi);
      bool same = o > 0 ? fr.object[j] == o
                        : fr.object[j] == 0 && fr.semantic[j] == ft.semantic[i] && in_hood(xi, yi) == hood;
      (*valid)[i] = same;
    }
}

}  // namespace vps::data
