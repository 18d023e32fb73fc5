#include "tensor/io/safetensors.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

namespace vps {

using ojson = nlohmann::ordered_json;

namespace {
constexpr uint64_t kMaxHeader = 100u << 20;  // the Python package refuses headers above 100 MB as well

struct Dt {
  const char* name;
  DType t;
};
constexpr Dt kDtypes[] = {{"F32", DType::f32}, {"F64", DType::f64}, {"F16", DType::f16}, {"BF16", DType::bf16},
                          {"I64", DType::i64}, {"I32", DType::i32}, {"U8", DType::u8},   {"BOOL", DType::b8}};

std::vector<int64_t> parse_shape(const ojson& j, const std::string& where) {
  VPS_CHECK(j.is_array(), where, ": 'shape' must be an array of integers");
  std::vector<int64_t> shape;
  for (const auto& d : j) {
    VPS_CHECK(d.is_number_unsigned() || (d.is_number_integer() && d.get<int64_t>() >= 0), where,
              ": 'shape' must hold non-negative integers, got ", d.dump());
    VPS_CHECK(d.get<uint64_t>() <= uint64_t(INT64_MAX), where, ": dimension ", d.dump(), " too large");
    shape.push_back(d.get<int64_t>());
  }
  return shape;
}

struct Entry {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  uint64_t begin, end;
};

Entry parse_entry(const std::string& name, const ojson& v, uint64_t data_size, const std::string& what) {
  std::string where = what + ": tensor '" + name + "'";
  VPS_CHECK(v.is_object(), where, ": header entry must be an object");
  VPS_CHECK(v.contains("dtype") && v["dtype"].is_string(), where, ": missing string 'dtype'");
  VPS_CHECK(v.contains("shape"), where, ": missing 'shape'");
  VPS_CHECK(v.contains("data_offsets"), where, ": missing 'data_offsets'");
  Entry e;
  e.name = name;
  std::string dt = v["dtype"].get<std::string>();
  VPS_CHECK(safetensors_dtype(dt, &e.dtype), where, ": unsupported dtype '", dt,
            "' (supported: F32 F64 F16 BF16 I64 I32 U8 BOOL)");
  e.shape = parse_shape(v["shape"], where);
  const ojson& off = v["data_offsets"];
  VPS_CHECK(off.is_array() && off.size() == 2 && off[0].is_number_unsigned() && off[1].is_number_unsigned(),
            where, ": 'data_offsets' must be [begin, end] with non-negative integers");
  e.begin = off[0].get<uint64_t>();
  e.end = off[1].get<uint64_t>();
  VPS_CHECK(e.begin <= e.end && e.end <= data_size, where, ": data_offsets [", e.begin, ", ", e.end,
            "] out of range (data block has ", data_size, " bytes)");
  uint64_t need = uint64_t(checked_numel(e.shape, where));
  VPS_CHECK(!__builtin_mul_overflow(need, uint64_t(dtype_size(e.dtype)), &need), where, ": byte size overflows");
  VPS_CHECK(e.end - e.begin == need, where, ": data_offsets [", e.begin, ", ", e.end, "] hold ", e.end - e.begin,
            " bytes but ", dt, " ", shape_str(e.shape), " needs ", need);
  return e;
}
}  // namespace

const char* safetensors_dtype_name(DType t) {
  for (const Dt& d : kDtypes)
    if (d.t == t) return d.name;
  VPS_FAIL("dtype ", dtype_name(t), " has no safetensors name");
}

bool safetensors_dtype(const std::string& name, DType* out) {
  for (const Dt& d : kDtypes)
    if (name == d.name) {
      *out = d.t;
      return true;
    }
  return false;
}

SafetensorsFile parse_safetensors(const uint8_t* data, size_t size, const std::string& what) {
  ByteReader r(data, size, what);
  VPS_CHECK(size >= 8, what, ": not a safetensors file (", size, " bytes, need at least 8)");
  uint64_t n = r.u64();
  VPS_CHECK(n <= kMaxHeader && n <= size - 8, what, ": header length ", n, " exceeds the file size (", size,
            " bytes) or the 100 MB limit; not a safetensors file or truncated");
  const char* h = reinterpret_cast<const char*>(r.take(n));
  ojson header;
  try {
    header = ojson::parse(h, h + n);
  } catch (const nlohmann::json::exception& e) {
    VPS_FAIL(what, ": bad JSON header: ", e.what());
  }
  VPS_CHECK(header.is_object(), what, ": JSON header must be an object");
  uint64_t data_size = size - 8 - n;
  SafetensorsFile out;
  std::vector<Entry> entries;
  for (const auto& [key, v] : header.items()) {
    if (key == "__metadata__") {
      VPS_CHECK(v.is_object(), what, ": __metadata__ must be an object of strings");
      for (const auto& [mk, mv] : v.items()) {
        VPS_CHECK(mv.is_string(), what, ": __metadata__ value of '", mk, "' is not a string");
        out.metadata[mk] = mv.get<std::string>();
      }
      continue;
    }
    entries.push_back(parse_entry(key, v, data_size, what));
  }
  std::vector<const Entry*> by_offset;
  for (const Entry& e : entries) by_offset.push_back(&e);
  std::sort(by_offset.begin(), by_offset.end(),
            [](const Entry* a, const Entry* b) { return a->begin != b->begin ? a->begin < b->begin : a->end < b->end; });
  for (size_t i = 1; i < by_offset.size(); ++i)
    VPS_CHECK(by_offset[i]->begin >= by_offset[i - 1]->end, what, ": tensor '", by_offset[i]->name,
              "' overlaps tensor '", by_offset[i - 1]->name, "'");
  const uint8_t* block = data + 8 + n;
  for (const Entry& e : entries) {
    RawArray a;
    a.dtype = e.dtype;
    a.shape = e.shape;
    a.data.assign(block + e.begin, block + e.end);
    out.arrays.emplace_back(e.name, std::move(a));
  }
  return out;
}

SafetensorsFile read_safetensors(const std::string& path) {
  std::vector<uint8_t> bytes = read_file_bytes(path);
  return parse_safetensors(bytes.data(), bytes.size(), "'" + path + "'");
}

void write_safetensors(const std::string& path, const NamedArrays& arrays,
                       const std::map<std::string, std::string>& metadata) {
  ojson header = ojson::object();
  if (!metadata.empty()) {
    ojson m = ojson::object();
    for (const auto& [k, v] : metadata) m[k] = v;
    header["__metadata__"] = m;
  }
  std::set<std::string> seen;
  uint64_t pos = 0;
  std::vector<ByteSpan> parts(2);
  for (const auto& [name, a] : arrays) {
    VPS_CHECK(name != "__metadata__", "'", path, "': '__metadata__' cannot be a tensor name");
    VPS_CHECK(seen.insert(name).second, "'", path, "': duplicate tensor name '", name, "'");
    uint64_t need = uint64_t(checked_numel(a.shape, "'" + path + "': tensor '" + name + "'")) * dtype_size(a.dtype);
    VPS_CHECK(need == a.data.size(), "'", path, "': tensor '", name, "' has ", a.data.size(), " bytes but ",
              dtype_name(a.dtype), " ", shape_str(a.shape), " needs ", need);
    header[name] = {{"dtype", safetensors_dtype_name(a.dtype)}, {"shape", a.shape}, {"data_offsets", {pos, pos + need}}};
    pos += need;
    parts.push_back({a.data.data(), a.data.size()});
  }
  std::string h;
  try {
    h = header.dump();
  } catch (const nlohmann::json::exception& e) {
    VPS_FAIL("'", path, "': cannot encode the header (tensor names and metadata must be UTF-8): ", e.what());
  }
  h.append((8 - h.size() % 8) % 8, ' ');
  uint8_t len[8];
  for (int i = 0; i < 8; ++i) len[i] = uint8_t(uint64_t(h.size()) >> (8 * i));
  parts[0] = {len, 8};
  parts[1] = {h.data(), h.size()};
  write_file_atomic(path, parts);
}

}  // namespace vps
