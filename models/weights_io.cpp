#include "models/weights_io.h"

#include <algorithm>

#include "models/registry.h"
#include "models/backbone/resnet_fpn.h"
#include "ops/ops.h"
#include "tensor/check.h"
#include "tensor/io/safetensors.h"
#include "tensor/io/tensor_io.h"

namespace vps::models {

namespace {
bool has_prefix(const std::string& key, const std::vector<std::string>& prefixes) {
  for (const std::string& p : prefixes)
    if (key.compare(0, p.size(), p) == 0) return true;
  return false;
}
}  // namespace

std::map<std::string, std::vector<int64_t>> expected_shapes(const nn::Module& m) {
  std::map<std::string, std::vector<int64_t>> out;
  for (auto& kv : m.state_dict()) out[kv.first] = kv.second.shape();
  return out;
}

KeyReport load_arrays(nn::Module& m, const NamedArrays& arrays, const std::string& what, const LoadOptions& opt) {
  auto expected = expected_shapes(m);
  KeyReport r = compare_keys(arrays, expected);
  r.missing.erase(std::remove_if(r.missing.begin(), r.missing.end(),
                                 [&](const std::string& k) { return has_prefix(k, opt.optional_prefixes); }),
                  r.missing.end());
  // Not strict allows a partial load (a backbone from an ImageNet checkpoint); a file that shares no
  // key with the model is a different model, a wrong --key or a missing prefix, never a partial load.
  VPS_CHECK(expected.empty() || r.missing.size() < expected.size(), "load: ", what, " matches none of the ",
            expected.size(), " keys of the ", m.type_name(), " (", arrays.size(),
            " tensors in the file; a different model, a wrong --key or a name prefix to rename?)");
  bool refuse = !r.mismatched.empty() || (opt.strict && !r.ok());
  if (refuse) {
    KeyReport shown = r;
    if (!opt.strict) shown.missing.clear(), shown.unexpected.clear();
    VPS_FAIL("load: ", what, " does not fit the ", m.type_name(), " (", r.missing.size(), " missing, ",
             r.unexpected.size(), " unexpected, ", r.mismatched.size(), " mis-shaped keys):\n", shown.to_string());
  }
  std::map<std::string, Tensor> sd;
  auto shapes = expected_shapes(m);
  for (auto& kv : arrays)
    if (shapes.count(kv.first)) sd[kv.first] = from_raw(kv.second);
  m.load_state_dict(sd, false);
  if (opt.fold_bn) fold_batch_norms(m);
  return r;
}

std::string partial_load_summary(const KeyReport& r, size_t max_names) {
  std::string out;
  auto list = [&](const std::vector<std::string>& keys, const char* what) {
    if (keys.empty()) return;
    out += std::to_string(keys.size()) + " " + what + ":\n";
    for (size_t i = 0; i < keys.size() && i < max_names; ++i) out += "  " + keys[i] + "\n";
    if (keys.size() > max_names) out += "  ... and " + std::to_string(keys.size() - max_names) + " more\n";
  };
  list(r.missing, "model keys not in the file (they keep their initial values)");
  list(r.unexpected, "keys of the file the model does not use (left unused)");
  return out;
}

KeyReport load(nn::Module& m, const std::string& path, const LoadOptions& opt) {
  WeightsFile w = load_weights(path, opt.pth);
  return load_arrays(m, w.arrays, path, opt);
}

void save(const nn::Module& m, const std::string& path, const std::map<std::string, std::string>& metadata,
          const std::vector<std::string>& skip_prefixes) {
  NamedArrays arrays;
  for (auto& kv : m.state_dict())
    if (!has_prefix(kv.first, skip_prefixes)) arrays.emplace_back(kv.first, to_raw(kv.second));
  write_safetensors(path, arrays, metadata);
}

KeyReport compare_with_model(const nn::Module& m, const std::string& path, const PthOptions& pth) {
  return compare_keys(load_weights(path, pth).arrays, expected_shapes(m));
}

std::string inspect_against_model(const std::string& file, const std::string& config, const std::string& model_type,
                                  const std::string& pth_key, bool strip_module, bool* complete) {
  VPS_CHECK(config.empty() != model_type.empty(), "inspect: give exactly one of a config file or a model type");
  std::shared_ptr<nn::Module> m =
      config.empty() ? build_module(nlohmann::json{{"type", model_type}}) : build_module_from_file(config);
  PthOptions pth;
  pth.select_key = pth_key;
  pth.strip_module = strip_module;
  KeyReport r = compare_with_model(*m, file, pth);
  if (complete) *complete = r.missing.empty() && r.mismatched.empty();
  std::string what = config.empty() ? model_type : config;
  return str_cat(file, " against ", what, " (", m->type_name(), ", ", m->state_dict().size(), " keys):\n",
                 r.to_string(), r.ok() ? "\n" : "");
}


}  // namespace vps::models
