// `vps convert`: a PyTorch checkpoint (or a .safetensors file) -> a .safetensors file, with key
// selection, module. stripping, a prefix filter, regex renames and an optional cast to float32.
#pragma once
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "tensor/io/raw_array.h"

namespace vps {

struct ConvertOptions {
  std::string key;                 // wrapped dict entry to take ("" = automatic, see PthOptions)
  bool strip_module = true;        // drop a leading "module."
  std::string prefix;              // keep only keys starting with this (source names, after stripping)
  std::vector<std::pair<std::string, std::string>> renames;  // regex -> replacement, applied in order
  bool to_f32 = false;             // cast float16/bfloat16/float64 to float32 (--dtype f32); default keeps
};

// Reads a JSON object {"regex": "replacement", ...} keeping its order; vps::Error names the file.
std::vector<std::pair<std::string, std::string>> read_rename_map(const std::string& path);

// Applies the rules in order to every name (std::regex ECMAScript, all matches, $1 references).
// A name that a rule turns into the empty string is dropped (later rules are not applied to it).
// vps::Error on an invalid regex or two names renamed to the same one.
void rename_arrays(NamedArrays* arrays, const std::vector<std::pair<std::string, std::string>>& rules);

struct ConvertSummary {
  size_t tensors = 0;
  uint64_t bytes = 0;
  std::map<std::string, std::string> metadata;  // what went into __metadata__
};

// Reads `in`, transforms, and writes `out` atomically; nothing is written when any step fails or
// when no tensor is left. Metadata: source, converted_at (UTC ISO 8601), tool, format, and the
// checkpoint's mmcv `meta` as JSON when present (a .safetensors input keeps its metadata too).
ConvertSummary convert_weights(const std::string& in, const std::string& out, const ConvertOptions& opt);

// "2024-05-01T12:00:00Z"
std::string utc_now_iso8601();

}  // namespace vps
