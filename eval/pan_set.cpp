#include "eval/pan_set.h"

#include <algorithm>

#include "data/fs_util.h"
#include "tensor/check.h"

namespace vps::eval {

using nlohmann::json;

std::vector<std::pair<size_t, size_t>> array_split(size_t n, size_t parts) {
  VPS_CHECK(parts > 0, "array_split: number of sections must be larger than 0");
  std::vector<std::pair<size_t, size_t>> out;
  size_t base = n / parts, extra = n % parts, pos = 0;
  for (size_t i = 0; i < parts; ++i) {
    size_t len = base + (i < extra ? 1 : 0);
    out.push_back({pos, pos + len});
    pos += len;
  }
  return out;
}

static std::vector<SegInfo> parse_segments(const json& ann, const std::string& where, bool is_gt) {
  const json& si = data::json_at(ann, "segments_info", where);
  VPS_CHECK(si.is_array(), where, ": 'segments_info' must be a list");
  std::vector<SegInfo> out;
  for (const auto& s : si) {
    SegInfo g;
    int64_t id = data::json_int(s, "id", where + " segments_info[]");
    std::string w = where + " segment " + std::to_string(id);
    VPS_CHECK(id >= 0 && id < (int64_t(1) << 24), w, ": segment id out of the RGB range");
    g.id = uint32_t(id);
    g.category_id = int(data::json_int(s, "category_id", w, 0, INT32_MAX));
    if (is_gt) {
      g.iscrowd = int(data::json_int(s, "iscrowd", w, 0, 1));
      g.area = data::json_int(s, "area", w);
      VPS_CHECK(g.area >= 0, w, ": 'area' is negative (", g.area, ")");
    } else if (s.contains("iscrowd") && s["iscrowd"].is_number_integer()) {
      g.iscrowd = s["iscrowd"].get<int64_t>() != 0;
    }
    out.push_back(g);
  }
  return out;
}

PanSet load_pan_set(const std::string& pred_dir, const std::string& gt_dir, const std::string& gt_json,
                    int video_len, int64_t max_pixels) {
  VPS_CHECK(video_len > 0, "video length must be positive, got ", video_len);
  json gt = data::read_json(gt_json);
  // Without a prediction folder (vps vis of the GT alone) only the GT side is read.
  const bool with_pred = !pred_dir.empty();
  std::string pred_json = with_pred ? data::join_path(pred_dir, "pred.json") : "";
  json pred = with_pred ? data::read_json(pred_json) : json{{"annotations", json::array()}};
  PanSet set;
  set.max_pixels = max_pixels;
  set.categories = data::categories_from_json(data::json_at(gt, "categories", gt_json), gt_json);
  const json& images = data::json_at(gt, "images", gt_json);
  const json& gt_anns = data::json_at(gt, "annotations", gt_json);
  const json& pred_anns = data::json_at(pred, "annotations", pred_json);
  VPS_CHECK(images.is_array() && gt_anns.is_array(), gt_json, ": 'images' and 'annotations' must be lists");
  VPS_CHECK(pred_anns.is_array(), pred_json, ": 'annotations' must be a list");
  VPS_CHECK(images.size() == gt_anns.size(), gt_json, ": ", images.size(), " images but ", gt_anns.size(),
            " annotations");
  VPS_CHECK(!with_pred || pred_anns.size() == gt_anns.size(), pred_json, " has ", pred_anns.size(),
            " annotations but the GT json has ", gt_anns.size(), " (they are matched by position)");
  std::vector<std::string> gt_names, files;
  for (size_t i = 0; i < images.size(); ++i) {
    std::string w = gt_json + " images[" + std::to_string(i) + "]";
    std::string file = data::checked_path_component(data::json_str(images[i], "file_name", w), w + " file_name");
    gt_names.push_back(data::cityscapes_label_name(file));
    files.push_back(file);
  }
  std::sort(gt_names.begin(), gt_names.end());
  for (size_t i = 0; i < images.size(); ++i) {
    PanFrame f;
    std::string w = gt_json + " images[" + std::to_string(i) + "]";
    const json& idj = data::json_at(images[i], "id", w);
    f.image_id = data::checked_path_component(idj.is_string() ? idj.get<std::string>() : idj.dump(), w + " id");
    if (images[i].contains("width") || images[i].contains("height")) {
      int64_t iw = data::json_int(images[i], "width", w), ih = data::json_int(images[i], "height", w);
      data::ImageLimits lim;
      lim.max_pixels = max_pixels;
      data::check_image_size(iw, ih, lim, w);
      f.width = int(iw), f.height = int(ih), f.size_from = w;
    }
    f.file_name = files[i];
    if (!gt_dir.empty()) f.gt_png = data::join_path(gt_dir, gt_names[i]);
    f.gt_segs = parse_segments(gt_anns[i], gt_json + " annotations[" + std::to_string(i) + "]", true);
    if (with_pred) {
      f.pred_png = data::join_path(pred_dir, "pan_pred/" + f.image_id + ".png");
      f.pred_segs = parse_segments(pred_anns[i], pred_json + " annotations[" + std::to_string(i) + "] (image " +
                                                     f.image_id + ")", false);
    }
    set.frames.push_back(std::move(f));
  }
  size_t nvid = set.frames.size() / size_t(video_len);
  VPS_CHECK(nvid > 0, gt_json, ": ", set.frames.size(), " frames are fewer than one video of ", video_len);
  set.videos = array_split(set.frames.size(), nvid);
  return set;
}

std::vector<uint32_t> load_ids(const std::string& png, const data::ImageLimits& lim, int* w, int* h) {
  data::Image img = data::read_png(png, lim);
  *w = img.width;
  *h = img.height;
  return data::image_to_ids(img, png);
}

void load_frame_ids(const PanFrame& f, int64_t max_pixels, std::vector<uint32_t>* gt, std::vector<uint32_t>* pred,
                    int* w, int* h) {
  data::ImageLimits lim;
  lim.max_pixels = max_pixels;
  lim.expect_width = f.width, lim.expect_height = f.height, lim.expect_what = f.size_from;
  *gt = load_ids(f.gt_png, lim, w, h);
  lim.expect_width = *w, lim.expect_height = *h, lim.expect_what = "its GT '" + f.gt_png + "'";
  int pw = 0, ph = 0;
  *pred = load_ids(f.pred_png, lim, &pw, &ph);
}

}  // namespace vps::eval
