// .safetensors reading and writing: 8-byte little-endian header length N, N bytes of JSON
// {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ..., "__metadata__": {str: str}},
// then the data block (offsets are relative to its start). Files stay readable by the Python package.
#pragma once
#include <map>
#include <string>

#include "tensor/io/raw_array.h"

namespace vps {

struct SafetensorsFile {
  NamedArrays arrays;                           // in header order
  std::map<std::string, std::string> metadata;  // the optional "__metadata__" map
};

// Reads and validates a whole file. vps::Error names the file (and the tensor key) on a header length
// beyond the file, bad JSON, an unknown dtype, offsets out of range, overlapping or not matching
// dtype * shape.
SafetensorsFile read_safetensors(const std::string& path);
// Same, from bytes already in memory; `what` names the source in errors.
SafetensorsFile parse_safetensors(const uint8_t* data, size_t size, const std::string& what);

// Writes atomically (temp file + fsync + rename). Tensors are laid out in the given order without
// gaps; the header is padded with spaces to a multiple of 8 bytes. Duplicate names are an error.
void write_safetensors(const std::string& path, const NamedArrays& arrays,
                       const std::map<std::string, std::string>& metadata = {});

// "F32" <-> DType. safetensors_dtype throws for names vps does not support.
const char* safetensors_dtype_name(DType t);
bool safetensors_dtype(const std::string& name, DType* out);

}  // namespace vps
