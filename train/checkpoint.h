// Training checkpoints: everything a run needs to continue bit-identically, in one safetensors file
// written atomically (temporary file, fsync, rename; a write killed mid-way leaves the previous
// checkpoint as it was). Tensors: "model.<param or buffer>" and "optimizer.<SGD state key>";
// metadata: format, iteration, the sampling generator's seed and counter, and free-form entries.
#pragma once
#include <cstdint>
#include <map>
#include <string>

#include "layers/module.h"
#include "tensor/tensor.h"
#include "train/sgd.h"

namespace vps::train {

struct CheckpointState {
  int64_t iteration = 0;                    // steps completed
  uint64_t rng_seed = 0, rng_counter = 0;   // the trainer's Generator
  std::map<std::string, std::string> extra; // e.g. the config, the data folder
};

constexpr const char* kCheckpointFormat = "vps-train-checkpoint-1";

void save_checkpoint(const std::string& path, const nn::Module& model, const SGD& optimizer,
                     const CheckpointState& state);
// Restores model and optimizer in place (every key must match: a checkpoint of another model or a
// truncated file is an error naming the path) and returns the state.
CheckpointState load_checkpoint(const std::string& path, nn::Module& model, SGD& optimizer);

// Model weights only (the "model." tensors, prefix removed): what `vps infer` or a fine-tuning run
// initialises from.
nn::NamedTensors checkpoint_model_weights(const std::string& path);

}  // namespace vps::train
