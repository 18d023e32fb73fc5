#include "train/run_config.h"

#include <cmath>

#include "data/fs_util.h"
#include "data/panoptic.h"
#include "models/config_reader.h"
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

// Splits "key=value" (the value read as JSON, else as a string).
std::pair<std::string, json> parse_override(const std::string& kv) {
  size_t eq = kv.find('=');
  VPS_CHECK(eq != std::string::npos && eq > 0, "override '", kv, "': expected key=value");
  std::string v = kv.substr(eq + 1);
  json value = json::parse(v, nullptr, false);
  return {kv.substr(0, eq), value.is_discarded() ? json(v) : value};
}

}  // namespace

RunConfig run_config(json cfg, const std::string& config_dir, const std::vector<std::string>& overrides) {
  VPS_CHECK(cfg.is_object(), "train config: expected an object, got ", cfg.dump());
  // model=<path or object> replaces the model first, so that model.* overrides reach its fields.
  std::vector<std::pair<std::string, json>> fields;
  bool model_from_command_line = false;
  for (const std::string& kv : overrides) {
    auto [key, value] = parse_override(kv);
    if (key == "model") cfg["model"] = value, model_from_command_line = true;
    else fields.emplace_back(key, value);
  }
  VPS_CHECK(cfg.contains("model"), "train config: needs a \"model\" entry (a model config path or object)");
  if (cfg["model"].is_string()) {
    // A relative path in the train config is relative to its folder (as the shipped configs are written),
    // one on the command line to the working directory; each falls back to the other.
    const std::string p = cfg["model"];
    std::vector<std::string> tries = {p};
    if (!config_dir.empty() && p.rfind('/', 0) != 0)
      tries.insert(model_from_command_line ? tries.end() : tries.begin(), data::join_path(config_dir, p));
    std::string found;
    for (const std::string& t : tries)
      if (found.empty() && data::path_exists(t)) found = t;
    VPS_CHECK(!found.empty(), "train config: model config '", p, "' not found (looked for ", tries[0],
              tries.size() > 1 ? " and " + tries[1] : std::string(), ")");
    cfg["model"] = models::load_config(found);
  }
  for (auto& [key, value] : fields) set_path(cfg, key, value);

  models::cfg::Reader r(cfg, "train config");
  r.accept({"model"});  // read by the model's builder, which refuses its own unknown keys
  RunConfig rc;
  rc.model = cfg["model"];
  rc.resolved = cfg;
  const uint64_t seed = uint64_t(r.get_int("seed", 0));
  models::cfg::Reader d = r.section("data");
  rc.split = d.get_string("split", "train");
  rc.format = data::dataset_format_from_string(d.get_string("format", "cityscapes_vps"), "train config data.format");
  std::vector<int64_t> offs = d.get_ints("ref_offsets", {-1, 1});
  rc.data.ref_offsets.assign(offs.begin(), offs.end());
  rc.data.scale = d.get_double("scale", 1.0);
  rc.data.flip = d.get_bool("flip", true);
  // data.flow: false (none), true (<data>/<split>/flow, e.g. vps synth --flow-offsets) or a folder
  const json* flow = d.raw("flow");
  if (flow && flow->is_string()) rc.flow = flow->get<std::string>();
  else if (d.get_bool("flow", false)) rc.flow = "<split>";
  std::vector<double> ratio = d.get_doubles("scale_ratio_range", {});
  VPS_CHECK(ratio.empty() || ratio.size() == 2, "train config: data.scale_ratio_range must be [lo, hi], got ",
            ratio.size(), " numbers");
  if (ratio.size() == 2) rc.data.scale_ratio_lo = ratio[0], rc.data.scale_ratio_hi = ratio[1];
  std::vector<int64_t> crop = d.get_ints("crop_size", {});
  VPS_CHECK(crop.empty() || crop.size() == 2, "train config: data.crop_size must be [height, width], got ",
            crop.size(), " numbers");
  if (crop.size() == 2) rc.data.crop_h = crop[0], rc.data.crop_w = crop[1];
  rc.data.seed = seed;
  models::cfg::Reader o = r.section("optimizer");
  TrainerOptions& t = rc.trainer;
  t.sgd.lr = o.get_double("lr", 0.01);
  t.sgd.momentum = o.get_double("momentum", 0.9);
  t.sgd.weight_decay = o.get_double("weight_decay", 1e-4);
  t.clip_grad_norm = o.get_double("clip_grad_norm", 35.0);
  models::cfg::Reader s = r.section("schedule");
  t.schedule.base_lr = t.sgd.lr;
  t.schedule.warmup_iters = s.get_int("warmup_iters", 500);
  t.schedule.warmup_ratio = s.get_double("warmup_ratio", 1.0 / 3);
  t.schedule.steps = s.get_ints("steps", {});
  t.schedule.gamma = s.get_double("gamma", 0.1);
  t.max_iters = r.get_int("max_iters", 1000);
  t.checkpoint_every = r.get_int("checkpoint_every", 500);
  rc.log_every = r.get_int("log_every", 10);
  rc.tensorboard = r.get_bool("tensorboard", true);
  t.seed = seed;
  t.accumulate = r.get_int("accumulate", 1);
  r.finish();
  VPS_CHECK(t.max_iters >= 1 && t.checkpoint_every >= 0 && rc.log_every >= 1 && t.accumulate >= 1 &&
                t.accumulate <= 4096,
            "train config: max_iters >= 1, checkpoint_every >= 0, log_every >= 1 and accumulate in 1..4096 required");
  // Every learning rate the schedule can reach must be positive and finite: lr > 0, a warmup that starts
  // above 0 and at most at lr, a decay factor gamma in (0, 1].
  VPS_CHECK(t.sgd.lr > 0 && std::isfinite(t.sgd.lr), "train config: optimizer.lr must be a positive number, got ",
            t.sgd.lr);
  VPS_CHECK(t.schedule.warmup_ratio > 0 && t.schedule.warmup_ratio <= 1,
            "train config: schedule.warmup_ratio must be in (0, 1], got ", t.schedule.warmup_ratio);
  VPS_CHECK(t.schedule.gamma > 0 && t.schedule.gamma <= 1, "train config: schedule.gamma must be in (0, 1], got ",
            t.schedule.gamma);
  VPS_CHECK(t.schedule.warmup_iters >= 0, "train config: schedule.warmup_iters must be >= 0, got ",
            t.schedule.warmup_iters);
  VPS_CHECK(t.sgd.momentum >= 0 && t.sgd.momentum < 1, "train config: optimizer.momentum must be in [0, 1), got ",
            t.sgd.momentum);
  VPS_CHECK(t.sgd.weight_decay >= 0 && std::isfinite(t.sgd.weight_decay),
            "train config: optimizer.weight_decay must be >= 0, got ", t.sgd.weight_decay);
  VPS_CHECK(t.clip_grad_norm >= 0 && std::isfinite(t.clip_grad_norm),
            "train config: optimizer.clip_grad_norm must be >= 0 (0: off), got ", t.clip_grad_norm);
  return rc;
}

}  // namespace vps::train
