#include "train/run_config.h"

#include "data/fs_util.h"
#include "data/panoptic.h"
#include "models/registry.h"
#include "tensor/check.h"

namespace vps::train {

namespace {

using nlohmann::json;

// Sets cfg at a dotted path, creating objects on the way.
void set_path(json& cfg, const std::string& key, const json& value) {
  json* node = &cfg;
  size_t start = 0;
  while (true) {
    size_t dot = key.find('.', start);
    std::string part = key.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    VPS_CHECK(!part.empty(), "override '", key, "': empty key component");
    VPS_CHECK(node->is_object(), "override '", key, "': '", part, "' is inside a value that is not an object");
    if (dot == std::string::npos) {
      (*node)[part] = value;
      return;
    }
    if (!node->contains(part)) (*node)[part] = json::object();
    node = &(*node)[part];
    start = dot + 1;
  }
}

json section(const json& j, const char* key) { return j.contains(key) ? j.at(key) : json::object(); }

}  // namespace

RunConfig run_config(json cfg, const std::string& config_dir, const std::vector<std::string>& overrides) {
  VPS_CHECK(cfg.is_object() && cfg.contains("model"), "train config: needs a \"model\" entry (a model config path or object)");
  if (cfg["model"].is_string()) {  // resolve the model path first, so model.* overrides reach its fields
    std::string p = cfg["model"];
    if (!data::path_exists(p) && !config_dir.empty() && data::path_exists(data::join_path(config_dir, p)))
      p = data::join_path(config_dir, p);
    cfg["model"] = models::load_config(p);
  }
  for (const std::string& kv : overrides) {
    size_t eq = kv.find('=');
    VPS_CHECK(eq != std::string::npos && eq > 0, "override '", kv, "': expected key=value");
    std::string v = kv.substr(eq + 1);
    json value = json::parse(v, nullptr, false);
    set_path(cfg, kv.substr(0, eq), value.is_discarded() ? json(v) : value);
  }
  models::cfg::check_keys(cfg, {"model", "data", "optimizer", "schedule", "max_iters", "checkpoint_every", "log_every",
                               "seed", "accumulate"}, "train config");
  RunConfig rc;
  rc.model = cfg["model"];
  rc.resolved = cfg;
  const uint64_t seed = uint64_t(models::cfg::get_int(cfg, "seed", 0, "train config"));
  json d = section(cfg, "data");
  models::cfg::check_keys(d, {"format", "split", "ref_offsets", "scale", "scale_ratio_range", "crop_size", "flip", "flow"},
                          "data");
  rc.split = models::cfg::get_string(d, "split", "train", "data");
  rc.format = data::dataset_format_from_string(models::cfg::get_string(d, "format", "cityscapes_vps", "data"),
                                               "train config data.format");
  std::vector<int64_t> offs = models::cfg::get_ints(d, "ref_offsets", {-1, 1}, "data");
  rc.data.ref_offsets.assign(offs.begin(), offs.end());
  rc.data.scale = models::cfg::get_double(d, "scale", 1.0, "data");
  rc.data.flip = models::cfg::get_bool(d, "flip", true, "data");
  // data.flow: false (none), true (<data>/<split>/flow, e.g. vps synth --flow-offsets) or a folder
  if (d.contains("flow") && d["flow"].is_string()) rc.flow = d["flow"].get<std::string>();
  else if (models::cfg::get_bool(d, "flow", false, "data")) rc.flow = "<split>";
  std::vector<double> ratio = models::cfg::get_doubles(d, "scale_ratio_range", {}, "data");
  VPS_CHECK(ratio.empty() || ratio.size() == 2, "train config: data.scale_ratio_range must be [lo, hi], got ",
            ratio.size(), " numbers");
  if (ratio.size() == 2) rc.data.scale_ratio_lo = ratio[0], rc.data.scale_ratio_hi = ratio[1];
  std::vector<int64_t> crop = models::cfg::get_ints(d, "crop_size", {}, "data");
  VPS_CHECK(crop.empty() || crop.size() == 2, "train config: data.crop_size must be [height, width], got ",
            crop.size(), " numbers");
  if (crop.size() == 2) rc.data.crop_h = crop[0], rc.data.crop_w = crop[1];
  rc.data.seed = seed;
  json o = section(cfg, "optimizer");
  models::cfg::check_keys(o, {"lr", "momentum", "weight_decay", "clip_grad_norm"}, "optimizer");
  TrainerOptions& t = rc.trainer;
  t.sgd.lr = models::cfg::get_double(o, "lr", 0.01, "optimizer");
  t.sgd.momentum = models::cfg::get_double(o, "momentum", 0.9, "optimizer");
  t.sgd.weight_decay = models::cfg::get_double(o, "weight_decay", 1e-4, "optimizer");
  t.clip_grad_norm = models::cfg::get_double(o, "clip_grad_norm", 35.0, "optimizer");
  json s = section(cfg, "schedule");
  models::cfg::check_keys(s, {"warmup_iters", "warmup_ratio", "steps", "gamma"}, "schedule");
  t.schedule.base_lr = t.sgd.lr;
  t.schedule.warmup_iters = models::cfg::get_int(s, "warmup_iters", 500, "schedule");
  t.schedule.warmup_ratio = models::cfg::get_double(s, "warmup_ratio", 1.0 / 3, "schedule");
  t.schedule.steps = models::cfg::get_ints(s, "steps", {}, "schedule");
  t.schedule.gamma = models::cfg::get_double(s, "gamma", 0.1, "schedule");
  t.max_iters = models::cfg::get_int(cfg, "max_iters", 1000, "train config");
  t.checkpoint_every = models::cfg::get_int(cfg, "checkpoint_every", 500, "train config");
  rc.log_every = models::cfg::get_int(cfg, "log_every", 10, "train config");
  t.seed = seed;
  t.accumulate = models::cfg::get_int(cfg, "accumulate", 1, "train config");
  VPS_CHECK(t.max_iters >= 1 && t.checkpoint_every >= 0 && rc.log_every >= 1 && t.sgd.lr > 0 && t.clip_grad_norm >= 0 &&
                t.accumulate >= 1 && t.accumulate <= 4096,
            "train config: max_iters >= 1, checkpoint_every >= 0, log_every >= 1, optimizer.lr > 0, "
            "clip_grad_norm >= 0 and accumulate in 1..4096 required");
  return rc;
}

}  // namespace vps::train
