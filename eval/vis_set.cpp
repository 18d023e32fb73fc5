#include "eval/vis_set.h"

#include <algorithm>
#include <unordered_map>

#include "data/fs_util.h"
#include "data/gif.h"
#include "data/vis.h"
#include "eval/pan_set.h"
#include "tensor/check.h"

namespace vps::eval {

namespace {

std::unordered_map<uint32_t, int> categories_of(const std::vector<SegInfo>& segs) {
  std::unordered_map<uint32_t, int> m;
  for (const SegInfo& s : segs) m.emplace(s.id, s.category_id);
  return m;
}

}  // namespace

int render_visualisation(const VisOptions& o) {
  VPS_CHECK(!o.gt_dir.empty() || !o.pred_dir.empty(), "vis: give a GT folder, a prediction folder or both");
  VPS_CHECK(!o.side_by_side || (!o.gt_dir.empty() && !o.pred_dir.empty()), "vis: side by side needs GT and prediction");
  const PanSet set = load_pan_set(o.pred_dir, o.gt_dir, o.gt_json, 1, o.max_pixels);
  data::make_dirs(o.out_dir);
  std::vector<data::Image> video_frames;
  std::string video_name;
  auto flush_video = [&]() {
    if (video_frames.empty()) return;
    if (o.gif) data::write_gif(data::join_path(o.out_dir, video_name + ".gif"), video_frames, 50);
    if (o.sheet)
      data::write_png(data::join_path(o.out_dir, video_name + "_sheet.png"),
                      data::contact_sheet(video_frames, 3, std::min(video_frames[0].width, 480)));
    video_frames.clear();
  };
  int written = 0;
  for (size_t i = 0; i < set.frames.size(); ++i) {
    const PanFrame& f = set.frames[i];
    data::ImageLimits lim;  // GT at the JSON's size (when it gives one), the prediction at the GT's
    lim.max_pixels = set.max_pixels;
    lim.expect_width = f.width, lim.expect_height = f.height, lim.expect_what = f.size_from;
    data::Image rgb;
    if (!o.images_dir.empty()) rgb = data::read_image(data::join_path(o.images_dir, f.file_name), lim);
    auto render = [&](const std::string& png, const std::vector<SegInfo>& segs) {
      int w = 0, h = 0;
      std::vector<uint32_t> ids = load_ids(png, lim, &w, &h);
      lim.expect_width = w, lim.expect_height = h, lim.expect_what = "'" + png + "'";
      data::Image col = data::colorize(ids, w, h, categories_of(segs), set.categories);
      if (rgb.width)
        VPS_CHECK(rgb.width == w && rgb.height == h, "vis: '", png, "' is ", w, "x", h, " but its frame is ", rgb.width,
                  "x", rgb.height);
      return rgb.width ? data::overlay(rgb, col, ids, o.alpha) : col;
    };
    data::Image g, p;
    if (!f.gt_png.empty()) g = render(f.gt_png, f.gt_segs);
    if (!f.pred_png.empty()) p = render(f.pred_png, f.pred_segs);
    data::Image out = o.side_by_side ? data::side_by_side(g, p) : (p.width ? p : g);
    data::write_png(data::join_path(o.out_dir, f.image_id + ".png"), out);
    ++written;
    // A video is the run of frames whose file names share the video id (the part before the first
    // '_', as in Cityscapes-VPS's "0005_0025_frankfurt_..."), however many frames it has.
    std::string video = f.file_name.substr(0, f.file_name.find('_'));
    if (i == 0 || video != video_name) {
      flush_video();
      video_name = video;
    }
    if (o.gif || o.sheet) video_frames.push_back(std::move(out));
  }
  flush_video();
  return written;
}

}  // namespace vps::eval
