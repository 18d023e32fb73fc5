// Any weights file vps reads -- .safetensors, .npy or a PyTorch checkpoint -- detected by content,
// plus the listing `vps inspect` prints and the key comparison a model load reports.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "tensor/io/pth_reader.h"
#include "tensor/io/raw_array.h"

namespace vps {

enum class WeightFormat { safetensors, npy, pth_zip, pth_legacy };
const char* weight_format_name(WeightFormat f);

struct WeightsFile {
  WeightFormat format;
  NamedArrays arrays;
  std::map<std::string, std::string> metadata;  // safetensors __metadata__; for .pth: "meta" (JSON) when present
};

// Detects the format from the first bytes (npy magic, zip, pickle, else safetensors) and reads the file.
// A .npy file yields one array named after the file stem. `pth` options apply to checkpoints only.
WeightsFile load_weights(const std::string& path, const PthOptions& pth = {});

// A table: name, dtype, shape, bytes per tensor, then the totals and the metadata keys.
std::string describe_weights(const std::string& path, const WeightsFile& w);

// Result of comparing a file's arrays with the names and shapes a model expects.
struct KeyReport {
  struct Mismatch {
    std::string name;
    std::vector<int64_t> file_shape, expected_shape;
  };
  std::vector<std::string> missing;     // expected but not in the file
  std::vector<std::string> unexpected;  // in the file but not expected
  std::vector<Mismatch> mismatched;     // in both, shapes differ
  bool ok() const { return missing.empty() && unexpected.empty() && mismatched.empty(); }
  std::string to_string() const;       // every problem, one per line; "all N keys match" when ok
};
KeyReport compare_keys(const NamedArrays& file, const std::map<std::string, std::vector<int64_t>>& expected);

}  // namespace vps
