#include "train/checkpoint.h"

#include <cmath>

#include "data/fs_util.h"
#include "tensor/check.h"
#include "tensor/io/safetensors.h"
#include "tensor/io/tensor_io.h"

namespace vps::train {

namespace {
const std::string kModel = "model.", kOptim = "optimizer.";

uint64_t meta_u64(const std::map<std::string, std::string>& m, const std::string& key, const std::string& path) {
  auto it = m.find(key);
  VPS_CHECK(it != m.end(), "checkpoint '", path, "': metadata has no '", key, "'");
  try {
    size_t pos = 0;
    uint64_t v = std::stoull(it->second, &pos);
    if (pos == it->second.size()) return v;
  } catch (...) {
  }
  VPS_FAIL("checkpoint '", path, "': metadata '", key, "' is not an unsigned integer: '", it->second, "'");
}
}  // namespace

void save_checkpoint(const std::string& path, const nn::Module& model, const SGD& optimizer,
                     const CheckpointState& state) {
  nn::NamedTensors all;
  for (auto& [name, t] : model.state_dict()) all.emplace_back(kModel + name, t);
  for (auto& [name, t] : optimizer.state_dict()) all.emplace_back(kOptim + name, t);
  std::map<std::string, std::string> meta = state.extra;
  meta["format"] = kCheckpointFormat;
  meta["model_type"] = model.type_name();
  meta["iteration"] = std::to_string(state.iteration);
  meta["rng_seed"] = std::to_string(state.rng_seed);
  meta["rng_counter"] = std::to_string(state.rng_counter);
  data::remove_stale_temporaries(path);  // what a killed earlier write left beside it
  save_safetensors(path, all, meta);
}

CheckpointState load_checkpoint(const std::string& path, nn::Module& model, SGD& optimizer) {
  SafetensorsFile f = read_safetensors(path);
  auto fmt = f.metadata.find("format");
  VPS_CHECK(fmt != f.metadata.end() && fmt->second == kCheckpointFormat, "'", path,
            "' is not a vps training checkpoint (metadata format '",
            fmt == f.metadata.end() ? std::string("none") : fmt->second, "', expected '", kCheckpointFormat, "')");
  std::map<std::string, Tensor> weights, optim;
  for (auto& [name, a] : f.arrays) {
    if (name.rfind(kModel, 0) == 0) weights[name.substr(kModel.size())] = from_raw(a);
    else if (name.rfind(kOptim, 0) == 0) optim[name.substr(kOptim.size())] = from_raw(a);
    else VPS_FAIL("checkpoint '", path, "': tensor '", name, "' is neither model.* nor optimizer.*");
  }
  // Checked before anything is loaded: a non-finite weight or momentum would be trained on silently.
  for (auto* group : {&weights, &optim})
    for (auto& [name, t] : *group) {
      int64_t bad = first_non_finite(t);
      VPS_CHECK(bad < 0, "checkpoint '", path, "': tensor '", group == &weights ? kModel : kOptim, name,
                "' holds a non-finite value (element ", bad, "): not resuming from it");
    }
  try {
    model.load_state_dict(weights, true);
    optimizer.load_state_dict(optim);
  } catch (const Error& e) {
    VPS_FAIL("checkpoint '", path, "': ", e.what());
  }
  CheckpointState s;
  const uint64_t it = meta_u64(f.metadata, "iteration", path);
  VPS_CHECK(it <= (uint64_t(1) << 53), "checkpoint '", path, "': metadata iteration ", it, " is beyond 2^53");
  s.iteration = int64_t(it);
  s.rng_seed = meta_u64(f.metadata, "rng_seed", path);
  s.rng_counter = meta_u64(f.metadata, "rng_counter", path);
  for (auto& [k, v] : f.metadata)
    if (k != "format" && k != "iteration" && k != "rng_seed" && k != "rng_counter" && k != "model_type") s.extra[k] = v;
  return s;
}

nn::NamedTensors checkpoint_model_weights(const std::string& path) {
  nn::NamedTensors out;
  for (auto& [name, t] : load_safetensors(path))
    if (name.rfind(kModel, 0) == 0) out.emplace_back(name.substr(kModel.size()), t);
  VPS_CHECK(!out.empty(), "'", path, "' holds no model.* tensors (not a vps training checkpoint?)");
  return out;
}

}  // namespace vps::train
