// The configuration of a `vps train` run (docs/vps-train.md): the model config (a path or inline), the
// training data, the optimizer, the schedule and the run's length, with key=value overrides of any
// field (`optimizer.lr=0.02`, `model.panopticFPN.out_channels=64`, `max_iters=100`), as detectron2 /
// mmdetection users expect.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/train_pairs.h"
#include "train/trainer.h"

namespace vps::train {

struct RunConfig {
  nlohmann::json model;          // the model config, resolved (a path replaced by the file's object)
  std::string split = "train";
  data::DatasetFormat format = data::DatasetFormat::cityscapes_vps;  // data.format: cityscapes_vps | viper
  data::PairOptions data;
  // The pair flows of SiamTrack's warping loss: "" none, "<split>" the dataset's <split>/flow folder,
  // else a folder (a `vps flow` cache); the command sets data.flow_dir from it.
  std::string flow;
  TrainerOptions trainer;        // sgd, schedule, clip, max_iters, checkpoint_every, seed (out_dir unset)
  int64_t log_every = 10;        // progress lines on the terminal (the JSON-lines log has every step)
  bool tensorboard = true;       // TensorBoard event files in the run folder (train/tensorboard_log.h)
  nlohmann::json resolved;       // the whole configuration after overrides, written to RUN/config.json
};

// cfg: the train config's JSON (its "model" may be a path, read relative to the working directory or
// to config_dir); overrides: "dotted.key=value" (value parsed as JSON, else taken as a string).
// Unknown keys and bad values are errors naming the key.
RunConfig run_config(nlohmann::json cfg, const std::string& config_dir, const std::vector<std::string>& overrides);

}  // namespace vps::train
