// A restricted unpickler: only the opcodes (protocols 2-5) and globals a PyTorch state_dict and an mmcv
// `meta` dict need. Anything else -- os.system, builtins.eval, INST/OBJ opcodes, extension codes -- is
// refused with a vps::Error naming the opcode or the global, before anything is called. No Python code
// ever runs: "calls" of the few allowed globals are interpreted here or by the caller's hook.
//
// Values live in an arena owned by the Unpickler and refer to each other by index, so cyclic or deeply
// nested pickles cannot leak or overflow the stack on destruction.
#pragma once
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_map>
#include <vector>

#include "tensor/io/raw_array.h"

namespace vps {

enum class PyKind : uint8_t { None, Bool, Int, BigInt, Float, Str, Bytes, List, Tuple, Dict, Global, Storage, Tensor };
const char* py_kind_name(PyKind k);

using ObjId = uint32_t;

struct PyObj {
  PyKind kind = PyKind::None;
  int64_t i = 0;             // Bool/Int value; Storage/Tensor: index into the caller's tables
  double f = 0;              // Float
  std::string s;             // Str (UTF-8), Bytes, BigInt (little-endian two's complement), Global "module.name"
  std::vector<ObjId> items;  // List/Tuple elements; Dict: key0, value0, key1, value1, ... in insertion order
};

class Unpickler {
 public:
  struct Hooks {
    // BINPERSID: turns a persistent id (usually a tuple) into an object, typically a Storage.
    std::function<ObjId(Unpickler&, ObjId pid)> persistent_load;
    // REDUCE/NEWOBJ of an allowed torch.* global ("torch._utils._rebuild_tensor_v2", ...).
    std::function<ObjId(Unpickler&, const std::string& global, ObjId args)> call_torch;
  };

  Unpickler(std::string what, Hooks hooks) : what_(std::move(what)), hooks_(std::move(hooks)) {}

  // Unpickles one pickle starting at r.pos() up to and including its STOP opcode; returns the root.
  ObjId load(ByteReader& r);

  PyObj& obj(ObjId id) { return arena_[id]; }
  const PyObj& obj(ObjId id) const { return arena_[id]; }
  ObjId make(PyKind k, int64_t i = 0, std::string s = {});
  const std::string& what() const { return what_; }

  // Helpers for hooks and callers; they throw vps::Error with `context` on a type mismatch.
  const std::vector<ObjId>& tuple_items(ObjId id, const std::string& context) const;
  int64_t as_int(ObjId id, const std::string& context) const;
  const std::string& as_str(ObjId id, const std::string& context) const;
  // Dict lookup by string key (the last insertion wins); returns false when absent.
  bool dict_get(ObjId dict, const std::string& key, ObjId* out) const;

  // JSON for metadata: None/bool/int/float/str/list/tuple/dict; tensors via `tensor_json`.
  using TensorJson = std::function<nlohmann::ordered_json(int64_t tensor_index)>;
  nlohmann::ordered_json to_json(ObjId id, const TensorJson& tensor_json, int depth = 0) const;

  // The complete allowlist of globals; everything else is refused by GLOBAL/STACK_GLOBAL.
  static bool global_allowed(const std::string& module, const std::string& name);

 private:
  ObjId call(ObjId callable, ObjId args, const char* opcode);
  ObjId pop();
  ObjId top();
  size_t pop_mark();
  [[noreturn]] void fail(const std::string& msg) const;

  std::string what_;
  Hooks hooks_;
  std::vector<PyObj> arena_;
  std::vector<ObjId> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, ObjId> memo_;
  size_t op_pos_ = 0;
  uint8_t op_ = 0;
};

}  // namespace vps
