// Loading a model's weights from any weights file (.safetensors or PyTorch .pth, zip or legacy) with
// one error listing every missing / unexpected / mis-shaped key, atomic saving as safetensors, the key
// comparison `vps inspect --model/--config` prints.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "layers/module.h"
#include "tensor/io/pth_reader.h"
#include "tensor/io/weights_file.h"

namespace vps::models {

struct LoadOptions {
  // strict: any missing or unexpected key is an error. Not strict: missing keys keep their values,
  // unexpected keys are ignored. A shape mismatch is an error either way.
  bool strict = true;
  bool fold_bn = false;  // after loading, fold every ResNet's conv+BN pairs (inference only)
  PthOptions pth;        // for .pth files: wrapping-dict key, module. stripping
  // Keys under these prefixes may be missing even when strict (a model's training-only parameters).
  std::vector<std::string> optional_prefixes;
};

// What a partial (non-strict) load did, for the user: the model keys the file lacks (they keep their
// initial values) and the file's keys the model does not use (left unused), at most `max_names` of
// each listed by name, then a count. "" when nothing was missing or unused.
std::string partial_load_summary(const KeyReport& r, size_t max_names = 20);

// name -> shape of every parameter and buffer of `m` (its state_dict).
std::map<std::string, std::vector<int64_t>> expected_shapes(const nn::Module& m);

// Loads `path` into `m`. Returns the key report (missing / unexpected; empty mismatches). vps::Error
// names the file and lists every problem (one per line) when loading is refused.
KeyReport load(nn::Module& m, const std::string& path, const LoadOptions& opt = {});
// Same from arrays already in memory (`what` names the source in errors).
KeyReport load_arrays(nn::Module& m, const NamedArrays& arrays, const std::string& what, const LoadOptions& opt = {});

// Writes m.state_dict() to `path` as safetensors, atomically (temp file + fsync + rename), without the
// keys under `skip_prefixes`.
void save(const nn::Module& m, const std::string& path, const std::map<std::string, std::string>& metadata = {},
          const std::vector<std::string>& skip_prefixes = {});

// The report `vps inspect FILE --model/--config` prints: the file's keys against the model's.
KeyReport compare_with_model(const nn::Module& m, const std::string& path, const PthOptions& pth = {});

// A report for `vps inspect FILE --config F | --model TYPE`: the file's keys against the model's
// (missing, unused, mis-shaped, one per line; "all N keys match" when they agree).
// `*complete` (when given) is set to whether every key the model expects is present with its shape.
std::string inspect_against_model(const std::string& file, const std::string& config, const std::string& model_type,
                                  const std::string& pth_key = "", bool strip_module = true, bool* complete = nullptr);

}  // namespace vps::models
