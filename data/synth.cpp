#include "data/synth.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <map>
#include <set>
#include <sstream>

#include "data/flow_io.h"
#include "data/fs_util.h"
#include "data/image_io.h"
#include "data/panoptic.h"
#include "data/rle.h"
#include "data/synth_scene.h"
#include "tensor/check.h"
#include "tensor/parallel.h"

namespace vps::data {

using nlohmann::json;

std::string synth_frame_stem(int vid, int k, int labels_per_video, int frame_index) {
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d_%04d_synth_%06d_%06d", vid, (vid - 1) * labels_per_video + k, vid,
                frame_index);
  return buf;
}

std::string synth_image_file(int vid, int fi, const SynthOptions& opt) {
  int labels = opt.frames / opt.label_every, k = fi / opt.label_every;
  if (fi % opt.label_every == 0 && k >= 1 && k <= labels)
    return synth_frame_stem(vid, k, labels, fi) + (k == 4 ? "_leftImg8bit.png" : "_newImg8bit.png");
  char name[96];
  std::snprintf(name, sizeof name, "synth_%06d_%06d_leftImg8bit.png", vid, fi);
  return name;
}

namespace {

// Segment ids as panopticapi's IdGenerator makes them: stuff = the category colour; a thing takes its
// category colour the first time, then a jittered colour not yet taken (one generator per split).
class IdGenerator {
 public:
  explicit IdGenerator(uint64_t seed) : rng_(seed) {
    for (const auto& c : cityscapes_categories())
      if (!c.isthing) taken_.insert(rgb2id(c.color[0], c.color[1], c.color[2]));
    taken_.insert(0);
  }
  uint32_t get(int cat) {
    const auto& c = cityscapes_categories()[size_t(cat)];
    uint32_t id = rgb2id(c.color[0], c.color[1], c.color[2]);
    if (!c.isthing) return id;
    while (taken_.count(id)) {
      int ch[3];
      for (int k = 0; k < 3; ++k) ch[k] = std::clamp(int(c.color[k]) + rng_.uniform(-30, 30), 0, 255);
      id = rgb2id(uint8_t(ch[0]), uint8_t(ch[1]), uint8_t(ch[2]));
    }
    taken_.insert(id);
    return id;
  }

 private:
  Rng rng_;
  std::set<uint32_t> taken_;
};

struct Segment {
  uint32_t id = 0;
  int cat = 0, iscrowd = 0, inst = 0, obj = 0;
  int64_t area = 0;
  int x0 = 1 << 30, y0 = 1 << 30, x1 = -1, y1 = -1;
};

struct LabelledFrame {
  int vid = 0, k = 0, fi = 0;
  std::string stem, image_file, label_file;
  std::vector<Segment> segments;       // sorted as the official label converter emits them
  std::vector<std::string> rle;        // per segment (things only, else empty)
};

struct Task {
  size_t video;  // index into the split's videos
  int fi;        // 1-based frame index
};

void write_frame(const std::string& root, const std::string& split, const SynthOptions& opt, const SceneVideo& v,
                 const std::vector<uint32_t>& obj_ids, int vid, int fi, int labels, LabelledFrame* lf) {
  bool labelled = fi % opt.label_every == 0, has_labels = split != "test";
  bool want_rgb = opt.images != "none";
  SceneFrame f = v.render(fi - 1, want_rgb);
  int W = opt.width, H = opt.height;
  char all_name[96];
  std::snprintf(all_name, sizeof all_name, "synth_%06d_%06d_leftImg8bit.png", vid, fi);
  if (want_rgb && split != "train" && opt.images == "all")
    write_png(join_path(root, split + "/img_all/" + all_name), f.rgb, opt.png_level);
  if (!labelled) return;
  int k = fi / opt.label_every;
  lf->vid = vid;
  lf->k = k;
  lf->fi = fi;
  lf->stem = synth_frame_stem(vid, k, labels, fi);
  lf->image_file = synth_image_file(vid, fi, opt);
  lf->label_file = cityscapes_label_name(lf->image_file);
  if (!has_labels) return;
  if (want_rgb) write_png(join_path(root, split + "/img/" + lf->image_file), f.rgb, opt.png_level);
  Image lab = Image::make(W, H, 1);
  lab.data8 = f.semantic;
  write_png(join_path(root, split + "/labelmap/" + lf->label_file), lab, opt.png_level);
  // Panoptic ids and segments; keys sort like the official converter's values (stuff/crowd: class, thing: class*1000+inst).
  const auto& objs = v.objects();
  std::map<int, Segment> segs;
  std::vector<uint32_t> ids(size_t(W) * H, 0);
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < W; ++x) {
      size_t i = size_t(y) * W + x;
      uint8_t s = f.semantic[i];
      if (s == 255) continue;
      int o = f.object[i];
      const auto& c = cityscapes_categories()[s];
      int key = o && !objs[o].crowd ? s * 1000 + objs[o].inst_id : s;
      Segment& g = segs[key];
      if (g.area == 0) {
        g.cat = s;
        g.obj = o;
        g.iscrowd = o && objs[o].crowd ? 1 : 0;
        g.inst = o ? objs[o].inst_id : 0;
        g.id = o ? obj_ids[o] : rgb2id(c.color[0], c.color[1], c.color[2]);
      }
      ids[i] = g.id;
      g.area++;
      g.x0 = std::min(g.x0, x);
      g.y0 = std::min(g.y0, y);
      g.x1 = std::max(g.x1, x);
      g.y1 = std::max(g.y1, y);
    }
  write_png(join_path(root, split + "/panoptic_video/" + lf->label_file), ids_to_image(ids, W, H), opt.png_level);
  std::vector<uint8_t> mask(ids.size());
  for (auto& [key, g] : segs) {
    lf->segments.push_back(g);
    std::string r;
    if (g.obj) {
      for (size_t i = 0; i < ids.size(); ++i) mask[i] = ids[i] == g.id;
      r = rle_to_string(rle_encode(mask.data(), H, W));
    }
    lf->rle.push_back(r);
  }
}

// The exact flow of labelled frame fi to each of opt.flow_offsets (float32: the values are exact).
void write_frame_flows(const std::string& root, const std::string& split, const SynthOptions& opt,
                       const SceneVideo& v, int vid, int fi) {
  SceneFrame ft = v.render(fi - 1, false);
  std::set<int> done = {fi};
  for (int off : opt.flow_offsets) {
    int r = std::clamp(fi + off, 1, opt.frames);
    if (!done.insert(r).second) continue;  // the frame itself, or two offsets clamped to one frame
    SceneFrame fr = v.render(r - 1, false);
    std::vector<float> flow;
    std::vector<uint8_t> valid;
    v.forward_flow(fi - 1, ft, r - 1, fr, &flow, &valid);
    PairFlow pf;
    pf.flow = Tensor::from_vector(flow, {2, opt.height, opt.width});
    pf.valid = Tensor::from_vector(valid, {1, opt.height, opt.width});
    pf.source = "synthetic-exact";
    pf.target = synth_image_file(vid, fi, opt);
    pf.reference = synth_image_file(vid, r, opt);
    write_pair_flow(pair_flow_file(join_path(root, split + "/flow"), pf.target, pf.reference), pf, false);
  }
}

json image_entry(const json& id, const std::string& file, const SynthOptions& o) {
  return {{"id", id}, {"file_name", file}, {"width", o.width}, {"height", o.height}};
}

void write_split_json(const std::string& root, const std::string& split, const SynthOptions& opt,
                      std::vector<LabelledFrame>& frames, const std::vector<int>& vids) {
  json cats = categories_to_json(cityscapes_categories());
  std::sort(frames.begin(), frames.end(),
            [](const LabelledFrame& a, const LabelledFrame& b) { return a.image_file < b.image_file; });
  json im = {{"images", json::array()}, {"categories", cats}};
  for (const auto& f : frames) im["images"].push_back(image_entry(f.stem, f.image_file, opt));
  write_json(join_path(root, "panoptic_im_" + split + "_city_vps.json"), im);
  if (split != "train") {
    json all = {{"images", json::array()}, {"categories", cats}};
    for (int vid : vids)
      for (int fi = 1; fi <= opt.frames; ++fi) {
        char name[96];
        std::snprintf(name, sizeof name, "synth_%06d_%06d_leftImg8bit.png", vid, fi);
        all["images"].push_back(image_entry(vid * 10000 + fi, name, opt));
      }
    write_json(join_path(root, "im_all_info_" + split + "_city_vps.json"), all);
  }
  if (split == "test") return;
  int labels = opt.frames / opt.label_every;
  json gt = {{"images", json::array()}, {"annotations", json::array()}, {"categories", cats}};
  json inst = {{"images", json::array()}, {"annotations", json::array()}, {"categories", json::array()}};
  for (const auto& c : cityscapes_categories())
    if (c.isthing) inst["categories"].push_back({{"id", c.id}, {"name", c.name}, {"supercategory", "thing"}});
  int ann_id = 1;
  for (const auto& f : frames) {
    gt["images"].push_back(image_entry(f.stem, f.image_file, opt));
    json si = json::array();
    int img_id = (f.vid - 1) * labels + f.k;
    json ie = image_entry(img_id, f.image_file, opt);
    ie["video_id"] = f.vid;
    ie["frame_id"] = f.fi;
    inst["images"].push_back(ie);
    for (size_t s = 0; s < f.segments.size(); ++s) {
      const Segment& g = f.segments[s];
      json bbox = {g.x0, g.y0, g.x1 - g.x0 + 1, g.y1 - g.y0 + 1};
      si.push_back({{"id", g.id}, {"category_id", g.cat}, {"iscrowd", g.iscrowd}, {"area", g.area}, {"bbox", bbox}});
      if (!g.obj) continue;
      inst["annotations"].push_back({{"id", ann_id++},
                                     {"image_id", img_id},
                                     {"category_id", g.cat},
                                     {"bbox", bbox},
                                     {"area", g.area},
                                     {"iscrowd", g.iscrowd},
                                     {"inst_id", g.inst},
                                     {"segmentation", {{"size", {opt.height, opt.width}}, {"counts", f.rle[s]}}}});
    }
    gt["annotations"].push_back({{"image_id", f.stem}, {"file_name", f.label_file}, {"segments_info", si}});
  }
  write_json(join_path(root, "panoptic_gt_" + split + "_city_vps.json"), gt);
  write_json(join_path(root, "instances_" + split + "_city_vps_rle.json"), inst);
}

}  // namespace

std::string synth_layout_problem(const SynthOptions& opt) {
  const int64_t splits = int64_t(opt.splits.size()), videos = int64_t(opt.videos) * splits;
  const int64_t labels = opt.label_every > 0 ? opt.frames / opt.label_every : 0;
  std::ostringstream os;
  // The Cityscapes-VPS layout writes a frame's id as video * 10000 + frame and a labelled frame's name
  // as "VVVV_LLLL_..." (video, running label number): 4 digits each, or the reader refuses or misorders.
  if (opt.frames > 9999) os << "--frames " << opt.frames << ": at most 9999 (frame ids are video * 10000 + frame)";
  else if (videos > 9999)
    os << "--videos " << opt.videos << " x " << splits << " splits = " << videos
       << " videos: at most 9999 in all (video ids have 4 digits)";
  else if (videos * labels > 9999)
    os << videos << " videos x " << labels << " labelled frames (--frames / --label-every) = " << videos * labels
       << ": at most 9999 labelled frames in all (their running number has 4 digits)";
  return os.str();
}

uint64_t synth_disk_bytes_lower_bound(const SynthOptions& opt) {
  const int64_t labels = opt.frames / opt.label_every, px = int64_t(opt.width) * opt.height;
  int64_t images = 0, label_maps = 0;  // files written per split, summed
  for (const std::string& s : opt.splits) {
    const int64_t all = s != "train" && opt.images == "all" ? opt.frames : 0;
    images += opt.images == "none" ? 0 : opt.videos * (labels + all);
    label_maps += s == "test" ? 0 : 2 * opt.videos * labels;  // labelmap + panoptic PNG
  }
  // Measured on the default scenes: about 1 byte a pixel for a frame at the default PNG level, 3 bytes
  // stored; label PNGs about 0.07. Half of that is a safe lower bound.
  const double per_image = opt.png_level == 0 ? 3.0 : 0.5;
  return uint64_t(double(px) * (double(images) * per_image + double(label_maps) * 0.03));
}

void write_synthetic_dataset(const std::string& root, const SynthOptions& opt) {
  VPS_CHECK(opt.videos >= 1 && opt.frames >= 1 && opt.label_every >= 1 && opt.frames >= opt.label_every,
            "vps synth: need videos >= 1 and frames >= label_every >= 1 (got ", opt.videos, ", ", opt.frames, ", ",
            opt.label_every, ")");
  VPS_CHECK(opt.images == "all" || opt.images == "labelled" || opt.images == "none",
            "vps synth: images must be all, labelled or none, got '", opt.images, "'");
  const std::string problem = synth_layout_problem(opt);
  VPS_CHECK(problem.empty(), "vps synth: ", problem);
  int labels = opt.frames / opt.label_every;
  const SceneOptions scene{opt.camera_motion, opt.crossing};
  // Videos are drawn and rendered a few at a time (memory stays that of a few scenes and frames, whatever
  // the counts); the first failed write stops the rest instead of rendering every remaining frame.
  const int chunk = std::max(8, 2 * omp_get_max_threads());
  std::atomic<bool> failed{false};
  int next_vid = 1;
  for (const char* split : {"train", "val", "test"}) {
    if (std::find(opt.splits.begin(), opt.splits.end(), split) == opt.splits.end()) continue;
    std::string s = split;
    for (const char* sub : {"img", "labelmap", "panoptic_video", "img_all"}) {
      bool need = s == "test" ? std::string(sub) == "img_all" : (s == "val" || std::string(sub) != "img_all");
      if (need) make_dirs(join_path(root, s + "/" + sub));
    }
    bool flows = !opt.flow_offsets.empty() && s != "test";
    if (flows) make_dirs(join_path(root, s + "/flow"));
    IdGenerator gen(opt.seed * 1000003ull + uint64_t(s.size()) * 7919ull + uint64_t(s[0]));
    std::vector<int> vids;
    std::vector<LabelledFrame> frames(size_t(opt.videos) * labels);
    for (int first = 0; first < opt.videos; first += chunk) {
      std::vector<SceneVideo> videos;
      std::vector<std::vector<uint32_t>> obj_ids;
      for (int v = first; v < std::min(opt.videos, first + chunk); ++v, ++next_vid) {
        videos.emplace_back(opt.width, opt.height, opt.frames, opt.seed * 0x100000001B3ull + uint64_t(next_vid),
                            scene);
        std::vector<uint32_t> ids(videos.back().objects().size(), 0);
        for (size_t o = 1; o < ids.size(); ++o) ids[o] = gen.get(videos.back().objects()[o].category);
        obj_ids.push_back(ids);
        vids.push_back(next_vid);
      }
      std::vector<Task> tasks;
      for (size_t v = 0; v < videos.size(); ++v)
        for (int fi = 1; fi <= opt.frames; ++fi)
          if (fi % opt.label_every == 0 || (s != "train" && opt.images == "all")) tasks.push_back({v, fi});
      parallel_for_each(int64_t(tasks.size()), 0, [&](int64_t t) {
        if (failed.load()) return;
        const Task& task = tasks[size_t(t)];
        const size_t video = size_t(first) + task.video;
        int fi = task.fi;
        LabelledFrame scratch;
        LabelledFrame* lf = fi % opt.label_every == 0 && fi / opt.label_every <= labels
                                ? &frames[video * labels + size_t(fi / opt.label_every - 1)]
                                : &scratch;
        try {
          write_frame(root, s, opt, videos[task.video], obj_ids[task.video], vids[video], fi, labels, lf);
          if (flows && lf != &scratch) write_frame_flows(root, s, opt, videos[task.video], vids[video], fi);
        } catch (...) {
          failed = true;
          throw;
        }
      });
    }
    write_split_json(root, s, opt, frames, vids);
  }
}

}  // namespace vps::data
