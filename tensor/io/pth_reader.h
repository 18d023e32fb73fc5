// Native reader for PyTorch checkpoints (torch.save), without Python:
//  - zip format (PyTorch >= 1.6): <prefix>/data.pkl + <prefix>/data/<key>, stored or deflated, ZIP64;
//  - legacy format (PyTorch <= 1.5): pickled magic, protocol version, sys info, the object (storages as
//    persistent ids), the list of storage keys, then per storage an 8-byte LE element count and the bytes.
// The pickle goes through the restricted Unpickler (tensor/io/unpickler.h): a malicious file cannot run code.
#pragma once
#include <string>
#include <vector>

#include "tensor/io/raw_array.h"

namespace vps {

struct PthOptions {
  // Entry of a wrapping dict holding the weights. Empty: automatic -- the top-level dict itself when it
  // holds tensors, else its 'state_dict', else its 'model' entry.
  std::string select_key;
  bool strip_module = true;   // drop a leading "module." (DataParallel / DistributedDataParallel)
  std::string prefix_filter;  // keep only keys starting with this (tested after stripping)
};

struct PthCheckpoint {
  NamedArrays arrays;                // contiguous arrays in state_dict order; views come out materialized
  std::string meta_json;             // the wrapper's 'meta' entry as JSON (mmcv), "" when there is none
  std::string source_key;            // the entry the weights came from, "" for the top level
  std::vector<std::string> skipped;  // entries of the state_dict that are not tensors (left out)
};

// Reads a checkpoint. dtypes: float32/64, float16, bfloat16, int64, int32, uint8, bool kept as they are;
// int16 and int8 storages are widened to int32. vps::Error names the file (and the tensor) on any problem.
PthCheckpoint read_pth(const std::string& path, const PthOptions& options = {});
PthCheckpoint parse_pth(const uint8_t* data, size_t size, const std::string& what, const PthOptions& options = {});

// True when the bytes start like a torch.save file of either format (zip or pickle protocol >= 2).
bool looks_like_pth(const uint8_t* data, size_t size);

}  // namespace vps
