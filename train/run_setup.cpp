#include "train/run_setup.h"

#include <cstdio>

#include "data/fs_util.h"
#include "data/panoptic.h"
#include "models/vps/vpsnet_track.h"
#include "models/weights_io.h"
#include "tensor/check.h"
#include "train/trainer.h"

namespace vps::train {

std::string prepare_run_folder(const std::string& run, const nlohmann::json& resolved, bool resume, bool force,
                               bool root, const std::vector<std::string>& inputs, data::PathLock& lock) {
  const std::string ckpt = data::join_path(run, "checkpoint.safetensors");
  const std::string folder = data::check_output_location(run, inputs, "the run folder");
  if (root) lock.acquire(folder);
  if (resume) {
    VPS_CHECK(data::path_exists(ckpt), "vps train --resume: no checkpoint ", ckpt,
              " (the run stopped before its first; start it again without --resume)");
  } else if (root && data::path_exists(run) && !data::list_files(run, "").empty()) {
    const bool ours = data::path_exists(data::join_path(run, data::kOutputMarker));
    if (ours && !data::path_exists(ckpt)) {
      std::printf("vps train: %s holds no checkpoint (a run that stopped before its first): starting afresh\n",
                  run.c_str());
    } else {
      VPS_CHECK(force, "vps train: ", run, " is not empty (use --resume to continue it, --force to start afresh)");
      data::check_replaceable(run, "--force: the run folder");
    }
    for (const std::string& name : data::list_files(run, "")) data::remove_tree(data::join_path(run, name));
  }
  if (root) {
    data::make_dirs(run);
    data::write_output_marker(run);
    data::write_json(data::join_path(run, "config.json"), resolved, 2);
  }
  return ckpt;
}

void load_initial_weights(nn::Module& model, const std::string& path, bool root) {
  models::LoadOptions lo;
  lo.strict = false;
  KeyReport r = models::load(model, path, lo);
  if (!root) return;
  std::printf("vps train: initialised from %s; %zu model keys not in it, %zu of its keys unused\n%s", path.c_str(),
              r.missing.size(), r.unexpected.size(), models::partial_load_summary(r).c_str());
}

void check_class_counts(const models::Model& model, const data::CityscapesVps& ds, const std::string& data_dir) {
  auto v = dynamic_cast<const models::VPSNetTrack*>(&model);
  if (!v) return;
  const auto& t = v->track_options();
  const int64_t things = ds.last_thing() - ds.first_thing() + 1;
  VPS_CHECK(t.semantic.num_classes == ds.num_classes() && t.panoptic.num_stuff == ds.first_thing() &&
                t.det.bbox_head.num_classes == things + 1,
            "vps train: the model has ", t.semantic.num_classes, " semantic classes, ", t.panoptic.num_stuff,
            " stuff and ", t.det.bbox_head.num_classes - 1, " thing classes; the dataset ", data_dir, " has ",
            ds.num_classes(), ", ", ds.first_thing(), " and ", things,
            " (set model.panopticFPN.num_classes, model.panoptic.num_stuff / class_mapping, "
            "model.bbox_head.num_classes and model.mask_head.num_classes)");
}

std::string resolve_flow_dir(const std::string& flow, const std::string& data_dir, const std::string& split) {
  const std::string dir = flow == "<split>" ? data::join_path(data_dir, split + "/flow") : flow;
  VPS_CHECK(dir.empty() || data::path_exists(dir), "vps train: data.flow: no folder ", dir,
            " (vps synth --flow-offsets writes <data>/<split>/flow)");
  return dir;
}

void log_eval(const std::string& run, int64_t iteration, double vpq, double vpq_thing, double vpq_stuff) {
  nlohmann::ordered_json line;  // the keys in the order nlohmann::json sorted them before
  line["iter"] = iteration;
  line["vpq"] = vpq;
  line["vpq_stuff"] = vpq_stuff;
  line["vpq_thing"] = vpq_thing;
  JsonlLog(data::join_path(run, "eval.jsonl")).write(line);
}

}  // namespace vps::train
