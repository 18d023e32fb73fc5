#include "infer/video_runner.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <unordered_map>

#include "data/cityscapes_vps.h"
#include "data/fs_util.h"
#include "data/gif.h"
#include "data/image_io.h"
#include "data/image_tensor.h"
#include "data/vis.h"
#include "eval/pan_set.h"
#include "infer/pan_export.h"
#include "infer/tracker.h"
#include "models/weights_io.h"
#include "tensor/allocator.h"
#include "tensor/check.h"
#include "tensor/io/tensor_io.h"

namespace vps::infer {

namespace {

// The frame key shared by img_all names (<city>_<seq>_<frame>_leftImg8bit.png) and labelled image
// names (<video>_<index>_<city>_<seq>_<frame>_newImg8bit.png): "<city>_<seq>_<frame>".
std::string frame_key(std::string name, bool labelled) {
  for (const char* suffix : {"_leftImg8bit.png", "_newImg8bit.png"}) {
    std::string s = suffix;
    if (name.size() > s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0) name.resize(name.size() - s.size());
  }
  if (labelled && name.size() > 10) name = name.substr(10);  // drop "0005_0025_"
  return name;
}

// Runs frames through the model and the tracker and writes what is asked of each.
class FrameRunner {
 public:
  FrameRunner(models::VPSNetTrack& m, const std::vector<data::Category>& cats, const std::string& out,
              const InferOptions& opt)
      : model_(m), tracker_(*m.track_head), ids_(cats), cats_(cats), out_(out), opt_(opt) {
    limits_.max_pixels = infer_pixel_limit(opt);
    limits_.limit_why = opt.max_pixels > 0 ? "--max-pixels"
                                           : "what half of this machine's memory holds at " +
                                                 std::to_string(kInferBytesPerPixel) + " bytes a pixel; see --max-pixels";
    data::make_dirs(data::join_path(out_, "pan_pred"));
    if (!opt_.dump.empty()) data::make_dirs(data::join_path(out_, "dump"));
    if (opt_.vis) data::make_dirs(data::join_path(out_, "vis"));
    model_.eval();
  }
  void new_video() { ids_.new_video(), first_ = true; }
  // One frame; when `name` is not empty its prediction is written as pan_pred/<name>.png and its
  // pred.json entry returned.
  nlohmann::json run(const std::string& path, int frame_index, const std::string& name, int expect_w = 0,
                     int expect_h = 0) {
    data::ImageLimits lim = limits_;
    if (expect_w > 0) lim.expect_width = expect_w, lim.expect_height = expect_h, lim.expect_what = "the dataset's JSON";
    data::Image rgb = data::read_image(path, lim);  // decoded once: the input and, with --vis, the overlay
    models::Frame f;
    f.image = vps::pad_to_multiple(data::normalized_image(rgb, path), 32).to(model_.backbone->conv_dtype()).contiguous();
    f.img_h = rgb.height, f.img_w = rgb.width;
    f.frame_index = frame_index;
    models::VPSNetFrameOutputs fo = model_.infer_frame(f);
    // VPSNet resets at frame index 1; the first frame seen of a video starts it in any case
    std::vector<int64_t> obj = tracker_.step(fo.roi_feats, fo.det.boxes, fo.det.labels, fo.det.scores,
                                             first_ || frame_index == 1);
    first_ = false;
    if (name.empty()) return nullptr;
    models::OutputMap o = model_.compose(fo, obj, f.img_h, f.img_w);
    Pan2ch p = unify_frame(o.at("semantic").to_vector<int64_t>(), o.at("panoptic").to_vector<int64_t>(), int(f.img_w),
                           int(f.img_h), o.at("labels").to_vector<int64_t>(), o.at("track_ids").to_vector<int64_t>(),
                           model_.panoptic_head.options().num_stuff, opt_.stuff_area_limit, opt_.unify);
    nlohmann::json info;
    std::vector<uint32_t> pix = ids_.encode(p, &info);
    const std::string& safe = data::checked_path_component(name, "frame name");
    data::write_png(data::join_path(out_, "pan_pred/" + safe + ".png"), data::ids_to_image(pix, int(f.img_w), int(f.img_h)), 1);
    if (!opt_.dump.empty()) dump(safe, fo, o);
    if (opt_.vis) {
      std::unordered_map<uint32_t, int> category_of;
      for (const auto& s : info) category_of[s["id"].get<uint32_t>()] = s["category_id"].get<int>();
      data::Image v = data::overlay(rgb, data::colorize(pix, int(f.img_w), int(f.img_h), category_of, cats_), pix);
      data::write_png(data::join_path(out_, "vis/" + safe + ".png"), v);
      vis_frames_.push_back(v);
    }
    return {{"image_id", name}, {"segments_info", info}};
  }
  void finish() {
    if (opt_.vis && !vis_frames_.empty()) data::write_gif(data::join_path(out_, "vis/video.gif"), vis_frames_, 20);
  }

 private:
  void dump(const std::string& name, const models::VPSNetFrameOutputs& fo, const models::OutputMap& o) {
    NamedTensors t;
    auto want = [&](const char* k) { return std::find(opt_.dump.begin(), opt_.dump.end(), k) != opt_.dump.end(); };
    if (want("fpn"))
      for (size_t l = 0; l < fo.det.feats.size(); ++l) t.push_back({"P" + std::to_string(l + 2), fo.det.feats[l]});
    if (want("fcn_output")) t.push_back({"fcn_output", o.at("fcn_output")});
    if (want("panoptic_logits")) t.push_back({"panoptic_logits", o.at("panoptic_logits")});
    if (want("detections"))
      for (const char* k : {"boxes", "scores", "labels", "track_ids"}) t.push_back({k, o.at(k)});
    save_safetensors(data::join_path(out_, "dump/" + name + ".safetensors"), t, {{"frame", name}});
  }

  models::VPSNetTrack& model_;
  OnlineTracker tracker_;
  SegmentIds ids_;
  std::vector<data::Category> cats_;
  std::string out_;
  InferOptions opt_;
  data::ImageLimits limits_;
  bool first_ = true;
  std::vector<data::Image> vis_frames_;
};

void check_dump_names(const InferOptions& opt) {
  for (const auto& d : opt.dump)
    VPS_CHECK(std::find(dump_names().begin(), dump_names().end(), d) != dump_names().end(), "vps infer: unknown --dump '",
              d, "' (fpn, fcn_output, panoptic_logits, detections)");
}

}  // namespace

int64_t infer_pixel_limit(const InferOptions& opt) {
  if (opt.max_pixels > 0) return opt.max_pixels;
  const uint64_t memory = host_memory_bytes();
  return memory > 0 ? int64_t(memory / 2 / uint64_t(kInferBytesPerPixel)) : int64_t(1) << 25;
}

namespace {

// As the JSON writer of pred.json judges it (strict UTF-8: no overlong forms or surrogates).
bool is_valid_utf8(const std::string& s) {
  try {
    (void)nlohmann::json(s).dump();
    return true;
  } catch (const nlohmann::json::type_error&) {
    return false;
  }
}

// The name with bytes outside printable ASCII as \xNN (for a message about a name that is not UTF-8).
std::string escaped(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7F) {
      out.push_back(char(c));
    } else {
      char b[8];
      std::snprintf(b, sizeof b, "\\x%02X", c);
      out += b;
    }
  }
  return out;
}

// The output names of --frames files (their stems): refused up front when two files give one name
// (a.png and a.jpg), a name is empty (".png") or not UTF-8 (pred.json is JSON), naming the files.
std::vector<std::string> frame_output_names(const std::vector<std::string>& files, const std::string& dir) {
  std::map<std::string, std::string> first_file;
  std::vector<std::string> names;
  for (const std::string& f : files) {
    std::string stem = f.substr(0, f.rfind('.'));
    VPS_CHECK(!stem.empty(), "vps infer: ", data::join_path(dir, f), " has no name before its extension: rename it");
    VPS_CHECK(is_valid_utf8(stem), "vps infer: the file name '", escaped(f), "' in ", dir,
              " is not UTF-8 (pred.json names frames in UTF-8): rename it");
    auto [it, fresh] = first_file.emplace(stem, f);
    VPS_CHECK(fresh, "vps infer: ", it->second, " and ", f, " in ", dir, " would both be written as ", stem,
              ".png: rename one");
    names.push_back(stem);
  }
  return names;
}

}  // namespace

const std::vector<std::string>& dump_names() {
  static const std::vector<std::string> n = {"fpn", "fcn_output", "panoptic_logits", "detections"};
  return n;
}

std::vector<int64_t> labelled_index_of_all_frames(const data::CityscapesVps& ds) {
  std::map<std::string, int64_t> labelled;  // frame key -> index into ds.frames()
  for (size_t i = 0; i < ds.frames().size(); ++i) labelled[frame_key(ds.frames()[i].image_file, true)] = int64_t(i);
  std::vector<int64_t> out;
  for (const data::CvpsAllFrame& af : ds.all_frames()) {
    auto it = labelled.find(frame_key(af.file, false));
    out.push_back(it == labelled.end() ? -1 : it->second);
  }
  return out;
}

InferStats infer_dataset(models::VPSNetTrack& model, const std::string& data_root, const std::string& out_dir,
                         const InferOptions& opt) {
  check_dump_names(opt);
  VPS_CHECK(opt.shards >= 1 && opt.shard >= 0 && opt.shard < opt.shards, "vps infer: shard ", opt.shard, " of ",
            opt.shards, " does not exist (0 <= shard < shards)");
  data::CityscapesVps ds(data_root, opt.split);
  VPS_CHECK(!ds.all_frames().empty(), "vps infer: ", data_root, " split ", opt.split,
            " lists no frames in im_all_info_", opt.split, "_city_vps.json (the img_all index)");
  const std::vector<int64_t> labelled = labelled_index_of_all_frames(ds);
  data::OutputDir out(out_dir, opt.force, {data_root});
  FrameRunner runner(model, ds.categories(), out.path(), opt);
  std::map<size_t, nlohmann::json> annotations;  // by labelled frame index (pred.json in frame order)
  InferStats st;
  std::vector<size_t> mine;  // this shard's videos
  int64_t total = 0, labelled_total = 0;
  for (size_t v = 0; v < ds.videos().size(); ++v)
    if (int(v % size_t(opt.shards)) == opt.shard) {
      mine.push_back(v);
      total += int64_t(ds.videos()[v].all.size());
      labelled_total += int64_t(ds.videos()[v].labelled.size());
    }
  for (size_t v : mine) {
    runner.new_video();
    for (size_t j : ds.videos()[v].all) {
      const data::CvpsAllFrame& af = ds.all_frames()[j];
      int64_t li = labelled[j];
      // the size the dataset's JSON gives the frame (im_all_info, else the labelled frame's entry)
      int w = af.width, h = af.height;
      if (w <= 0 && li >= 0) w = ds.frames()[size_t(li)].width, h = ds.frames()[size_t(li)].height;
      nlohmann::json a =
          runner.run(ds.all_frame_path(j), af.frame_index, li < 0 ? "" : ds.frames()[size_t(li)].name, w, h);
      if (li >= 0) annotations[size_t(li)] = a, ++st.written;
      ++st.frames;
      if (opt.progress) opt.progress(st.videos, int64_t(mine.size()), st.frames, total);
    }
    ++st.videos;
  }
  VPS_CHECK(int64_t(annotations.size()) == labelled_total, "vps infer: ", labelled_total, " labelled frames but ",
            annotations.size(), " of them are in img_all (", data_root, ")");
  nlohmann::json pred = {{"annotations", nlohmann::json::array()}};
  for (auto& [i, a] : annotations) pred["annotations"].push_back(a);
  data::write_json(data::join_path(out.path(), "pred.json"), pred);
  if (opt.shards > 1)
    data::write_json(data::join_path(out.path(), "shard.json"),
                     {{"shard", opt.shard}, {"shards", opt.shards}, {"split", opt.split}, {"videos", mine}});
  runner.finish();
  out.commit();
  return st;
}

InferStats infer_frames(models::VPSNetTrack& model, const std::string& frames_dir, const std::string& out_dir,
                        const InferOptions& opt) {
  check_dump_names(opt);
  std::vector<std::string> files;
  for (const char* ext : {".png", ".jpg", ".jpeg"})
    for (const auto& f : data::list_files(frames_dir, ext)) files.push_back(f);
  std::sort(files.begin(), files.end());
  VPS_CHECK(!files.empty(), "vps infer: ", frames_dir, " holds no .png / .jpg frames");
  const std::vector<std::string> names = frame_output_names(files, frames_dir);
  data::OutputDir out(out_dir, opt.force, {frames_dir});
  FrameRunner runner(model, data::cityscapes_categories(), out.path(), opt);
  runner.new_video();
  nlohmann::json pred = {{"annotations", nlohmann::json::array()}};
  InferStats st;
  st.videos = 1;
  for (size_t i = 0; i < files.size(); ++i) {
    pred["annotations"].push_back(runner.run(data::join_path(frames_dir, files[i]), int(i + 1), names[i]));
    ++st.frames, ++st.written;
    if (opt.progress) opt.progress(0, 1, st.frames, int64_t(files.size()));
  }
  data::write_json(data::join_path(out.path(), "pred.json"), pred);
  runner.finish();
  out.commit();
  return st;
}

eval::VpqResult infer_and_score(models::VPSNetTrack& model, const std::string& data_root, const std::string& pred_dir,
                                const InferOptions& opt) {
  InferOptions o = opt;
  o.force = true;  // a fresh prediction each time
  infer_dataset(model, data_root, pred_dir, o);
  data::CityscapesVps ds(data_root, opt.split);
  size_t per_video = ds.videos().empty() ? 0 : ds.videos()[0].labelled.size();
  for (const auto& v : ds.videos())
    VPS_CHECK(v.labelled.size() == per_video, "vps train --eval-every: the videos of ", data_root, " ", opt.split,
              " have different numbers of labelled frames (", per_video, " and ", v.labelled.size(), ")");
  eval::VpqOptions vo;
  vo.video_len = int(per_video);
  eval::PanSet set = eval::load_pan_set(pred_dir, data::join_path(data_root, opt.split + "/panoptic_video"),
                                        data::join_path(data_root, "panoptic_gt_" + opt.split + "_city_vps.json"),
                                        vo.video_len);
  return eval::evaluate_vpq(set, vo);
}

}  // namespace vps::infer
