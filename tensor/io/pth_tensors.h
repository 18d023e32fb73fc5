// Storages and tensors of a PyTorch checkpoint while it is unpickled: the persistent-id and
// torch._utils._rebuild_* hooks of the Unpickler, and materialization of (possibly strided, offset,
// shared-storage) tensors into contiguous RawArrays. Used by tensor/io/pth_reader.cpp.
#pragma once
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tensor/io/raw_array.h"
#include "tensor/io/unpickler.h"

namespace vps {

class PthTables {
 public:
  explicit PthTables(std::string what) : what_(std::move(what)) {}

  // Hooks for the Unpickler. legacy: persistent ids carry a 6th element (storage view metadata).
  Unpickler::Hooks hooks(bool legacy);
  // Zip format: storage bytes are fetched by key when first needed.
  void set_zip_loader(std::function<ByteSpan(const std::string& key)> loader) { zip_loader_ = std::move(loader); }
  // Legacy format: `count` elements of storage `key` follow at r.pos(); consumes them.
  void set_legacy_storage(const std::string& key, uint64_t count, ByteReader& r);

  // The tensor as a contiguous array; vps::Error names `name` when its storage is missing or too short.
  RawArray materialize(int64_t tensor, const std::string& name);
  // {"__tensor__": {"dtype": ..., "shape": [...]}} for metadata JSON.
  nlohmann::ordered_json describe(int64_t tensor) const;

 private:
  struct Elem {
    DType out;
    uint8_t src_size;  // < dtype_size(out): a narrower signed integer widened on load (int16/int8 -> int32)
  };
  struct Storage {
    std::string key;
    Elem elem;
    int64_t root = -1;  // legacy storage views: index of the root storage and the element window
    uint64_t view_offset = 0, view_numel = 0;
    bool loaded = false;
    ByteSpan bytes{nullptr, 0};
  };
  struct TensorRef {
    size_t storage;
    int64_t offset;
    std::vector<int64_t> size, stride;
  };

  ObjId persistent_load(Unpickler& u, ObjId pid, bool legacy);
  ObjId call(Unpickler& u, const std::string& fn, ObjId args);
  ObjId rebuild_tensor(Unpickler& u, const std::string& fn, const std::vector<ObjId>& a);
  size_t storage_index(const std::string& key, const Elem& elem);
  bool elem_of(const std::string& global, Elem* e) const;
  const uint8_t* storage_data(Storage& s, const std::string& name, uint64_t* numel);

  std::string what_;
  std::function<ByteSpan(const std::string&)> zip_loader_;
  std::vector<Storage> storages_;
  std::map<std::string, size_t> by_key_;
  std::vector<TensorRef> tensors_;
};

}  // namespace vps
