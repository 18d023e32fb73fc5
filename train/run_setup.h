// What `vps train` does around the Trainer (docs/vps-train.md), as library calls: the run folder and
// its config.json, the initial weights, the dataset's class counts against the model's, the flow
// folder of the warping loss, and the evaluation log RUN/eval.jsonl of --eval-every.
#pragma once
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "data/cityscapes_vps.h"
#include "data/path_lock.h"
#include "models/model.h"

namespace vps::train {

// The run folder `run`: with `resume` its checkpoint must exist; otherwise a non-empty folder is
// refused unless `force`, which empties it (rank 0 only, `root`) if vps made it (data::kOutputMarker),
// or unless it is a vps run folder without a checkpoint (a run that stopped before its first: nothing
// to resume, so it starts afresh). The folder may not be the root, the working directory, one of its
// parents, or hold any of `inputs`. On rank 0 the folder is locked first (`lock`: one writer per run
// folder, a second `vps train` of it stops at once naming the holder), created, and run/config.json
// written from `resolved`. Returns the checkpoint's path.
std::string prepare_run_folder(const std::string& run, const nlohmann::json& resolved, bool resume, bool force,
                               bool root, const std::vector<std::string>& inputs, data::PathLock& lock);

// Loads the weights file `path` into `model` by name, not strictly (keys the file lacks keep their
// initial values); rank 0 prints how many model keys were not in it and the first 20 of them.
void load_initial_weights(nn::Module& model, const std::string& path, bool root);

// VPSNet-Track's semantic, stuff and thing class counts against the dataset's (`data_dir` names it in
// the error, which lists the config keys to set). Other models: nothing to check.
void check_class_counts(const models::Model& model, const data::CityscapesVps& ds, const std::string& data_dir);

// The folder of the pair flows for the config's data.flow: "" none, "<split>" the dataset's
// <data_dir>/<split>/flow, else the folder given; vps::Error when it does not exist.
std::string resolve_flow_dir(const std::string& flow, const std::string& data_dir, const std::string& split);

// Appends {"iter", "vpq", "vpq_stuff", "vpq_thing"} to run/eval.jsonl (one JSON object a line).
void log_eval(const std::string& run, int64_t iteration, double vpq, double vpq_thing, double vpq_stuff);

}  // namespace vps::train
