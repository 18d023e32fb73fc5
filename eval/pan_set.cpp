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
    g.category_id = int(data::json_int(s, "category_id", w));
    if (is_gt) {
      g.iscrowd = int(data::json_int(s, "iscrowd", w));
      g.area = data::json_int(s, "area", w);
    } else if (s.contains("iscrowd") && s["iscrowd"].is_number_integer()) {
      g.iscrowd = s["iscrowd"].get<int>();
    }
    out.push_back(g);
  }
  return out;
}

PanSet load_pan_set(const std::string& pred_dir, const std::string& gt_dir, const std::string& gt_json,
                    int video_len) {
  VPS_CHECK(video_len > 0, "video length must be positive, got ", video_len);
  json gt = data::read_json(gt_json);
  std::string pred_json = data::join_path(pred_dir, "pred.json");
  json pred = data::read_json(pred_json);
  PanSet set;
  set.categories = data::categories_from_json(data::json_at(gt, "categories", gt_json), gt_json);
  const json& images = data::json_at(gt, "images", gt_json);
  const json& gt_anns = data::json_at(gt, "annotations", gt_json);
  const json& pred_anns = data::json_at(pred, "annotations", pred_json);
  VPS_CHECK(images.is_array() && gt_anns.is_array(), gt_json, ": 'images' and 'annotations' must be lists");
  VPS_CHECK(pred_anns.is_array(), pred_json, ": 'annotations' must be a list");
  VPS_CHECK(images.size() == gt_anns.size(), gt_json, ": ", images.size(), " images but ", gt_anns.size(),
            " annotations");
  VPS_CHECK(pred_anns.size() == gt_anns.size(), pred_json, " has ", pred_anns.size(),
            " annotations but the GT json has ", gt_anns.size(), " (they are matched by position)");
  std::vector<std::string> gt_names;
  for (size_t i = 0; i < images.size(); ++i) {
    std::string w = gt_json + " images[" + std::to_string(i) + "]";
    gt_names.push_back(data::cityscapes_label_name(data::json_str(images[i], "file_name", w)));
  }
  std::sort(gt_names.begin(), gt_names.end());
  for (size_t i = 0; i < images.size(); ++i) {
    PanFrame f;
    const json& idj = data::json_at(images[i], "id", gt_json + " images[" + std::to_string(i) + "]");
    f.image_id = idj.is_string() ? idj.get<std::string>() : idj.dump();
    f.gt_png = data::join_path(gt_dir, gt_names[i]);
    f.pred_png = data::join_path(pred_dir, "pan_pred/" + f.image_id + ".png");
    f.gt_segs = parse_segments(gt_anns[i], gt_json + " annotations[" + std::to_string(i) + "]", true);
    f.pred_segs = parse_segments(pred_anns[i], pred_json + " annotations[" + std::to_string(i) + "] (image " +
                                                   f.image_id + ")", false);
    set.frames.push_back(std::move(f));
  }
  size_t nvid = set.frames.size() / size_t(video_len);
  VPS_CHECK(nvid > 0, gt_json, ": ", set.frames.size(), " frames are fewer than one video of ", video_len);
  set.videos = array_split(set.frames.size(), nvid);
  return set;
}

std::vector<uint32_t> load_ids(const std::string& png, int expect_w, int expect_h, int* w, int* h) {
  data::Image img = data::read_png(png);
  if (expect_w > 0)
    VPS_CHECK(img.width == expect_w && img.height == expect_h, "'", png, "' is ", img.width, "x", img.height,
              " but its counterpart is ", expect_w, "x", expect_h);
  *w = img.width;
  *h = img.height;
  return data::image_to_ids(img, png);
}

}  // namespace vps::eval
