#include "infer/shards.h"

#include <map>

#include "data/cityscapes_vps.h"
#include "data/fs_util.h"
#include "data/image_io.h"
#include "data/panoptic.h"
#include "infer/pan_export.h"
#include "infer/video_runner.h"
#include "tensor/check.h"

namespace vps::infer {

ShardSpec parse_shard(const std::string& text) {
  ShardSpec s;
  size_t slash = text.find('/');
  try {
    size_t a = 0, b = 0;
    s.index = std::stoi(text.substr(0, slash), &a);
    s.count = std::stoi(text.substr(slash + 1), &b);
    if (slash != std::string::npos && a == slash && b == text.size() - slash - 1 && s.index >= 0 && s.index < s.count)
      return s;
  } catch (...) {
  }
  VPS_FAIL("--shard '", text, "': expected i/n with 0 <= i < n (shard 0/2 and 1/2 split the videos in two)");
}

std::string shard_dir(const std::string& out, const ShardSpec& s) {
  std::string o = out;
  while (o.size() > 1 && o.back() == '/') o.pop_back();
  return o + ".shard-" + std::to_string(s.index) + "-of-" + std::to_string(s.count);
}

void merge_shards(const std::string& data_root, const std::string& split, const std::vector<std::string>& shard_dirs,
                  const std::string& out_dir, bool force) {
  VPS_CHECK(!shard_dirs.empty(), "vps infer --merge: no shard folders given");
  data::CityscapesVps ds(data_root, split);
  // the folder holding each video, from the shards' shard.json
  std::map<size_t, std::string> video_dir;
  std::vector<std::string> by_shard(shard_dirs.size());
  for (const std::string& d : shard_dirs) {
    nlohmann::json info = data::read_json(data::join_path(d, "shard.json"));
    int i = info.at("shard").get<int>(), n = info.at("shards").get<int>();
    VPS_CHECK(n == int(shard_dirs.size()) && i >= 0 && i < n, "vps infer --merge: ", d, " is shard ", i, " of ", n, " but ",
              shard_dirs.size(), " folders were given");
    VPS_CHECK(by_shard[size_t(i)].empty(), "vps infer --merge: shard ", i, " given twice (", by_shard[size_t(i)], ", ", d, ")");
    VPS_CHECK(info.at("split").get<std::string>() == split, "vps infer --merge: ", d, " is of split ",
              info.at("split").get<std::string>(), ", not ", split);
    by_shard[size_t(i)] = d;
    for (size_t v : info.at("videos").get<std::vector<size_t>>()) video_dir[v] = d;
  }
  VPS_CHECK(video_dir.size() == ds.videos().size(), "vps infer --merge: the shards hold ", video_dir.size(), " of the ",
            ds.videos().size(), " videos of ", data_root, " ", split);
  std::map<std::string, nlohmann::json> annotation;  // image id -> the shard's pred.json entry
  for (const std::string& d : shard_dirs) {
    nlohmann::json pred = data::read_json(data::join_path(d, "pred.json"));  // kept alive through the loop
    for (const auto& a : pred.at("annotations")) annotation[a.at("image_id").get<std::string>()] = a;
  }

  std::vector<std::string> inputs = shard_dirs;
  inputs.push_back(data_root);
  data::OutputDir out(out_dir, force, inputs);
  data::make_dirs(data::join_path(out.path(), "pan_pred"));
  SegmentIds ids(ds.categories());
  const std::vector<int64_t> labelled = labelled_index_of_all_frames(ds);
  std::map<size_t, nlohmann::json> merged;  // by labelled frame index, as infer_dataset orders pred.json
  for (size_t v = 0; v < ds.videos().size(); ++v) {
    ids.new_video();
    const std::string& dir = video_dir.at(v);
    for (size_t j : ds.videos()[v].all) {  // the labelled frames in the order infer_dataset encoded them
      if (labelled[j] < 0) continue;
      const std::string& name = data::checked_path_component(ds.frames()[size_t(labelled[j])].name, "frame name");
      auto it = annotation.find(name);
      VPS_CHECK(it != annotation.end(), "vps infer --merge: ", dir, "/pred.json has no entry for ", name);
      const std::string png = data::join_path(dir, "pan_pred/" + name + ".png");
      data::Image img = data::read_png(png);
      std::vector<uint32_t> pix = data::image_to_ids(img, png);
      std::map<uint32_t, uint32_t> to;  // this frame's ids: shard -> merged
      for (uint32_t& p : pix) {
        auto t = to.find(p);
        if (t == to.end()) t = to.emplace(p, ids.renumber(p)).first;
        p = t->second;
      }
      data::write_png(data::join_path(out.path(), "pan_pred/" + name + ".png"), data::ids_to_image(pix, img.width, img.height), 1);
      std::map<uint32_t, nlohmann::json> segments;  // by the new id, as encode orders segments_info
      for (nlohmann::json s : it->second.at("segments_info")) {
        auto t = to.find(s.at("id").get<uint32_t>());
        VPS_CHECK(t != to.end(), "vps infer --merge: ", dir, "/pred.json lists segment ", s.at("id"), " of ", name,
                  " that its PNG does not hold");
        s["id"] = t->second;
        segments[t->second] = s;
      }
      nlohmann::json a = it->second;
      a["segments_info"] = nlohmann::json::array();
      for (auto& [id, s] : segments) a["segments_info"].push_back(s);
      merged[size_t(labelled[j])] = a;
      const std::string dump = data::join_path(dir, "dump/" + name + ".safetensors");
      if (data::path_exists(dump)) {
        data::make_dirs(data::join_path(out.path(), "dump"));
        std::vector<uint8_t> bytes = data::read_file_bytes(dump);
        data::write_file_atomic(data::join_path(out.path(), "dump/" + name + ".safetensors"), bytes.data(), bytes.size());
      }
    }
  }
  nlohmann::json pred = {{"annotations", nlohmann::json::array()}};
  for (auto& [i, a] : merged) pred["annotations"].push_back(a);
  data::write_json(data::join_path(out.path(), "pred.json"), pred);
  out.commit();
}

ShardPlan plan_shards(const std::string& shard_flag, const std::string& out, const train::LaunchInfo& launch,
                      const std::function<double()>& timeout) {
  ShardPlan p;
  if (!shard_flag.empty()) {
    p.shard = parse_shard(shard_flag);
  } else if (launch.world > 1) {
    p.comm = train::make_communicator("mpi", launch, timeout());
    p.shard = {p.comm->rank(), p.comm->size()};
  }
  p.out_dir = p.comm ? shard_dir(out, p.shard) : out;
  return p;
}

bool merge_ranked_shards(const ShardPlan& plan, const std::string& data_root, const std::string& split,
                         const std::string& out, bool force) {
  if (!plan.comm) return false;
  plan.comm->barrier("the end of inference (every shard written)");
  const bool root = plan.comm->rank() == 0;
  if (root) {
    std::vector<std::string> dirs;
    for (int i = 0; i < plan.shard.count; ++i) dirs.push_back(shard_dir(out, {i, plan.shard.count}));
    merge_shards(data_root, split, dirs, out, force);
    for (const auto& d : dirs) data::remove_tree(d);
  }
  plan.comm->barrier("the merge of the shards");  // no rank exits (and ends the job) before rank 0 has merged
  return root;
}

}  // namespace vps::infer
