#include "tensor/io/pth_tensors.h"

#include <cstring>

namespace vps {

using ojson = nlohmann::ordered_json;

Unpickler::Hooks PthTables::hooks(bool legacy) {
  Unpickler::Hooks h;
  h.persistent_load = [this, legacy](Unpickler& u, ObjId pid) { return persistent_load(u, pid, legacy); };
  h.call_torch = [this](Unpickler& u, const std::string& fn, ObjId args) { return call(u, fn, args); };
  return h;
}

bool PthTables::elem_of(const std::string& g, Elem* e) const {
  static const std::map<std::string, Elem> table = {
      {"torch.FloatStorage", {DType::f32, 4}},   {"torch.float32", {DType::f32, 4}},  {"torch.float", {DType::f32, 4}},
      {"torch.DoubleStorage", {DType::f64, 8}},  {"torch.float64", {DType::f64, 8}},  {"torch.double", {DType::f64, 8}},
      {"torch.HalfStorage", {DType::f16, 2}},    {"torch.float16", {DType::f16, 2}},  {"torch.half", {DType::f16, 2}},
      {"torch.BFloat16Storage", {DType::bf16, 2}}, {"torch.bfloat16", {DType::bf16, 2}},
      {"torch.LongStorage", {DType::i64, 8}},    {"torch.int64", {DType::i64, 8}},    {"torch.long", {DType::i64, 8}},
      {"torch.IntStorage", {DType::i32, 4}},     {"torch.int32", {DType::i32, 4}},    {"torch.int", {DType::i32, 4}},
      {"torch.ShortStorage", {DType::i32, 2}},   {"torch.int16", {DType::i32, 2}},    {"torch.short", {DType::i32, 2}},
      {"torch.CharStorage", {DType::i32, 1}},    {"torch.int8", {DType::i32, 1}},
      {"torch.ByteStorage", {DType::u8, 1}},     {"torch.uint8", {DType::u8, 1}},
      {"torch.BoolStorage", {DType::b8, 1}},     {"torch.bool", {DType::b8, 1}},
      {"torch.UntypedStorage", {DType::u8, 1}},  {"torch.storage.UntypedStorage", {DType::u8, 1}},
      {"torch.storage._UntypedStorage", {DType::u8, 1}}};
  auto it = table.find(g);
  if (it == table.end()) return false;
  *e = it->second;
  return true;
}

size_t PthTables::storage_index(const std::string& key, const Elem& elem) {
  auto it = by_key_.find(key);
  if (it != by_key_.end()) {
    const Elem& old = storages_[it->second].elem;
    VPS_CHECK(old.out == elem.out && old.src_size == elem.src_size, what_, ": storage '", key,
              "' is referenced with two different element types");
    return it->second;
  }
  by_key_[key] = storages_.size();
  storages_.push_back(Storage{key, elem});
  return storages_.size() - 1;
}

// pid = ('storage', <type global>, key, location, numel[, view_metadata (legacy)])
ObjId PthTables::persistent_load(Unpickler& u, ObjId pid, bool legacy) {
  const auto& t = u.tuple_items(pid, "persistent id");
  VPS_CHECK(t.size() >= 5 && u.obj(t[0]).kind == PyKind::Str && u.obj(t[0]).s == "storage", what_,
            ": persistent id is not a ('storage', type, key, location, numel) tuple");
  Elem elem;
  const PyObj& type = u.obj(t[1]);
  VPS_CHECK(type.kind == PyKind::Global && elem_of(type.s, &elem), what_, ": unsupported storage type ",
            type.kind == PyKind::Global ? type.s : py_kind_name(type.kind));
  size_t idx = storage_index(u.as_str(t[2], "storage key"), elem);
  if (legacy && t.size() >= 6 && u.obj(t[5]).kind != PyKind::None) {
    const auto& view = u.tuple_items(t[5], "storage view metadata");
    VPS_CHECK(view.size() == 3, what_, ": storage view metadata must be (key, offset, size)");
    int64_t off = u.as_int(view[1], "view offset"), n = u.as_int(view[2], "view size");
    VPS_CHECK(off >= 0 && n >= 0, what_, ": negative storage view offset or size");
    size_t v = storage_index(u.as_str(view[0], "view key"), elem);
    VPS_CHECK(v != idx, what_, ": storage view '", storages_[v].key, "' refers to itself");
    storages_[v].root = int64_t(idx);
    storages_[v].view_offset = uint64_t(off);
    storages_[v].view_numel = uint64_t(n);
    idx = v;
  }
  return u.make(PyKind::Storage, int64_t(idx));
}

ObjId PthTables::call(Unpickler& u, const std::string& fn, ObjId args) {
  const std::vector<ObjId> a = u.tuple_items(args, fn + " arguments");
  if (fn == "torch._utils._rebuild_tensor_v2" || fn == "torch._utils._rebuild_tensor") return rebuild_tensor(u, fn, a);
  if (fn == "torch._utils._rebuild_parameter" || fn == "torch._utils._rebuild_parameter_with_state") {
    VPS_CHECK(!a.empty() && u.obj(a[0]).kind == PyKind::Tensor, what_, ": ", fn, " expects a tensor first");
    return a[0];
  }
  if (fn == "torch._tensor._rebuild_from_type_v2") {  // (func, type, args, state): a tensor with Python state
    VPS_CHECK(a.size() == 4 && u.obj(a[0]).kind == PyKind::Global, what_, ": ", fn, " expects (func, type, args, state)");
    const std::string& inner = u.obj(a[0]).s;
    VPS_CHECK(inner.rfind("torch._utils._rebuild_", 0) == 0, what_, ": ", fn, " with function '", inner, "' refused");
    return call(u, inner, a[2]);
  }
  VPS_FAIL(what_, ": global '", fn, "' is not callable here");
}

ObjId PthTables::rebuild_tensor(Unpickler& u, const std::string& fn, const std::vector<ObjId>& a) {
  bool v2 = fn == "torch._utils._rebuild_tensor_v2";
  VPS_CHECK(v2 ? (a.size() >= 6 && a.size() <= 7) : a.size() == 4, what_, ": ", fn, " with ", a.size(), " arguments");
  VPS_CHECK(u.obj(a[0]).kind == PyKind::Storage, what_, ": ", fn, " expects a storage, got ", py_kind_name(u.obj(a[0]).kind));
  TensorRef t;
  t.storage = size_t(u.obj(a[0]).i);
  t.offset = u.as_int(a[1], "storage offset");
  for (ObjId d : u.tuple_items(a[2], "tensor size")) t.size.push_back(u.as_int(d, "tensor size"));
  for (ObjId d : u.tuple_items(a[3], "tensor stride")) t.stride.push_back(u.as_int(d, "tensor stride"));
  VPS_CHECK(t.offset >= 0, what_, ": negative storage offset ", t.offset);
  VPS_CHECK(t.size.size() == t.stride.size() && t.size.size() <= 64, what_, ": tensor size ", shape_str(t.size),
            " and stride ", shape_str(t.stride), " do not match");
  for (size_t d = 0; d < t.size.size(); ++d)
    VPS_CHECK(t.size[d] >= 0 && t.stride[d] >= 0, what_, ": bad tensor size ", shape_str(t.size), " / stride ",
              shape_str(t.stride));
  tensors_.push_back(std::move(t));
  return u.make(PyKind::Tensor, int64_t(tensors_.size() - 1));
}

void PthTables::set_legacy_storage(const std::string& key, uint64_t count, ByteReader& r) {
  auto it = by_key_.find(key);
  VPS_CHECK(it != by_key_.end(), what_, ": storage '", key, "' is listed but no tensor uses it");
  Storage& s = storages_[it->second];
  uint64_t bytes;
  VPS_CHECK(!__builtin_mul_overflow(count, uint64_t(s.elem.src_size), &bytes) && bytes <= r.remaining(), what_,
            ": storage '", key, "' claims ", count, " elements but only ", r.remaining(), " bytes remain (truncated?)");
  s.bytes = {r.take(size_t(bytes)), size_t(bytes)};
  s.loaded = true;
}

const uint8_t* PthTables::storage_data(Storage& s, const std::string& name, uint64_t* numel) {
  if (!s.loaded) {
    VPS_CHECK(zip_loader_, what_, ": tensor '", name, "': data of storage '", s.key, "' is missing");
    s.bytes = zip_loader_(s.key);
    s.loaded = true;
  }
  VPS_CHECK(s.bytes.size % s.elem.src_size == 0, what_, ": storage '", s.key, "' has ", s.bytes.size,
            " bytes, not a multiple of its element size ", int(s.elem.src_size));
  *numel = s.bytes.size / s.elem.src_size;
  return static_cast<const uint8_t*>(s.bytes.data);
}

RawArray PthTables::materialize(int64_t index, const std::string& name) {
  const TensorRef& t = tensors_[size_t(index)];
  Storage& s = storages_[t.storage];
  Storage& base = s.root >= 0 ? storages_[size_t(s.root)] : s;
  uint64_t avail = 0;
  const uint8_t* src = storage_data(base, name, &avail);
  uint64_t start = uint64_t(t.offset);
  if (s.root >= 0) {  // a legacy view: a window of the root storage
    avail = s.view_offset > avail ? 0 : std::min(avail - s.view_offset, s.view_numel);
    start += s.view_offset;
  }
  RawArray out;
  out.dtype = s.elem.out;
  out.shape = t.size;
  int64_t n = checked_numel(t.size, what_ + ": tensor '" + name + "'");
  if (n == 0) return out;
  uint64_t last = uint64_t(t.offset);
  bool overflow = false;
  for (size_t d = 0; d < t.size.size(); ++d) {
    uint64_t span;
    overflow |= __builtin_mul_overflow(uint64_t(t.size[d] - 1), uint64_t(t.stride[d]), &span);
    overflow |= __builtin_add_overflow(last, span, &last);
  }
  VPS_CHECK(!overflow && last < avail, what_, ": tensor '", name, "' (", dtype_name(out.dtype), " ", shape_str(t.size),
            ", storage offset ", t.offset, ", strides ", shape_str(t.stride), ") needs ", overflow ? 0 : last + 1,
            " elements of storage '", s.key, "', which holds only ", avail, " (truncated or corrupt)");
  size_t ssz = s.elem.src_size, osz = dtype_size(out.dtype);
  out.data.resize(size_t(n) * osz);
  src += (start - uint64_t(t.offset)) * ssz;  // window start; the tensor offset is added per element below
  bool contiguous = true;
  int64_t expect = 1;
  for (size_t d = t.size.size(); d-- > 0;) {
    if (t.size[d] != 1 && t.stride[d] != expect) contiguous = false;
    expect *= t.size[d];
  }
  if (contiguous && ssz == osz) {
    std::memcpy(out.data.data(), src + uint64_t(t.offset) * ssz, size_t(n) * osz);
    return out;
  }
  std::vector<int64_t> idx(t.size.size(), 0);
  uint64_t pos = uint64_t(t.offset);
  uint8_t* dst = out.data.data();
  for (int64_t i = 0; i < n; ++i, dst += osz) {
    const uint8_t* p = src + pos * ssz;
    if (ssz == osz) {
      std::memcpy(dst, p, osz);
    } else {  // sign-extend int8/int16 into int32
      int32_t v = ssz == 1 ? int32_t(int8_t(p[0])) : int32_t(int16_t(uint16_t(p[0] | (p[1] << 8))));
      std::memcpy(dst, &v, 4);
    }
    for (size_t d = t.size.size(); d-- > 0;) {
      pos += uint64_t(t.stride[d]);
      if (++idx[d] < t.size[d]) break;
      pos -= uint64_t(t.stride[d]) * uint64_t(t.size[d]);
      idx[d] = 0;
    }
  }
  return out;
}

ojson PthTables::describe(int64_t index) const {
  const TensorRef& t = tensors_[size_t(index)];
  return ojson{{"__tensor__", {{"dtype", dtype_name(storages_[t.storage].elem.out)}, {"shape", t.size}}}};
}

}  // namespace vps
