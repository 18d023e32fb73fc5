#include "tensor/io/pth_reader.h"

#include <cstring>
#include <map>
#include <memory>
#include <unordered_map>

#include "tensor/io/pth_tensors.h"
#include "tensor/io/unpickler.h"
#include "tensor/io/zip_reader.h"

namespace vps {

namespace {

using ojson = nlohmann::ordered_json;

// The legacy magic number 0x1950a86a20f9469cfc6c as LONG1 stores it: 10 bytes, little-endian.
const uint8_t kLegacyMagic[] = {0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};
constexpr int64_t kLegacyProtocol = 1001;

// Walks the chosen dict: tensors are collected under dotted names (nested dicts are flattened),
// anything else is recorded as skipped. Later duplicates replace earlier values in place.
void collect(const Unpickler& u, ObjId dict, const std::string& prefix, int depth,
             std::vector<std::pair<std::string, int64_t>>* out, std::unordered_map<std::string, size_t>* index,
             std::vector<std::string>* skipped) {
  VPS_CHECK(depth <= 32, u.what(), ": state_dict nested more than 32 levels deep");
  const auto& items = u.obj(dict).items;
  for (size_t i = 0; i + 1 < items.size(); i += 2) {
    const PyObj& k = u.obj(items[i]);
    const PyObj& v = u.obj(items[i + 1]);
    std::string name = prefix + (k.kind == PyKind::Str ? k.s : k.kind == PyKind::Int ? std::to_string(k.i) : "?");
    if (k.kind != PyKind::Str && k.kind != PyKind::Int) {
      skipped->push_back(name + " (key is a " + py_kind_name(k.kind) + ")");
    } else if (v.kind == PyKind::Tensor) {
      auto it = index->find(name);
      if (it != index->end()) (*out)[it->second].second = v.i;
      else index->emplace(name, out->size()), out->emplace_back(name, v.i);
    } else if (v.kind == PyKind::Dict) {
      collect(u, items[i + 1], name + ".", depth + 1, out, index, skipped);
    } else {
      skipped->push_back(name + " (" + py_kind_name(v.kind) + ")");
    }
  }
}

bool has_tensor_value(const Unpickler& u, ObjId dict) {
  const auto& items = u.obj(dict).items;
  for (size_t i = 1; i < items.size(); i += 2)
    if (u.obj(items[i]).kind == PyKind::Tensor) return true;
  return false;
}

std::string top_keys(const Unpickler& u, ObjId dict) {
  std::string s;
  const auto& items = u.obj(dict).items;
  for (size_t i = 0; i < items.size(); i += 2)
    if (u.obj(items[i]).kind == PyKind::Str) s += (s.empty() ? "'" : ", '") + u.obj(items[i]).s + "'";
  return s.empty() ? "none" : s;
}

ObjId choose_weights(const Unpickler& u, ObjId root, const PthOptions& opt, std::string* source_key) {
  VPS_CHECK(u.obj(root).kind == PyKind::Dict, u.what(), ": the checkpoint holds a ", py_kind_name(u.obj(root).kind),
            ", not a dict (state_dict)");
  ObjId v;
  if (!opt.select_key.empty()) {
    VPS_CHECK(u.dict_get(root, opt.select_key, &v), u.what(), ": no entry '", opt.select_key,
              "' in the checkpoint (top-level keys: ", top_keys(u, root), ")");
    VPS_CHECK(u.obj(v).kind == PyKind::Dict, u.what(), ": entry '", opt.select_key, "' is a ",
              py_kind_name(u.obj(v).kind), ", not a dict of tensors");
    *source_key = opt.select_key;
    return v;
  }
  if (has_tensor_value(u, root)) return root;
  for (const char* key : {"state_dict", "model"}) {
    if (u.dict_get(root, key, &v) && u.obj(v).kind == PyKind::Dict) {
      *source_key = key;
      return v;
    }
  }
  VPS_FAIL(u.what(), ": no tensors at the top level and no 'state_dict' or 'model' entry; pick one with --key "
           "(top-level keys: ", top_keys(u, root), ")");
}

PthCheckpoint extract(Unpickler& u, PthTables& tables, ObjId root, const PthOptions& opt) {
  PthCheckpoint ck;
  ObjId weights = choose_weights(u, root, opt, &ck.source_key);
  std::vector<std::pair<std::string, int64_t>> found;
  std::unordered_map<std::string, size_t> index;
  collect(u, weights, "", 0, &found, &index, &ck.skipped);
  std::unordered_map<std::string, size_t> final_names;
  for (auto& [name, tensor] : found) {
    std::string key = name;
    if (opt.strip_module && key.rfind("module.", 0) == 0) key = key.substr(7);
    if (key.compare(0, opt.prefix_filter.size(), opt.prefix_filter) != 0) continue;
    VPS_CHECK(final_names.emplace(key, ck.arrays.size()).second, u.what(), ": two tensors map to '", key,
              "' after stripping 'module.'");
    ck.arrays.emplace_back(key, tables.materialize(tensor, name));
  }
  ObjId meta;
  if (u.obj(root).kind == PyKind::Dict && u.dict_get(root, "meta", &meta))
    ck.meta_json = u.to_json(meta, [&](int64_t t) { return tables.describe(t); })
                       .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return ck;
}

PthCheckpoint parse_zip(const uint8_t* data, size_t size, const std::string& what, const PthOptions& opt) {
  ZipReader zip(data, size, what);
  std::string prefix;
  int found = 0;
  for (const auto& e : zip.entries()) {
    size_t n = e.name.size();
    if (n >= 8 && e.name.compare(n - 8, 8, "data.pkl") == 0 && (n == 8 || e.name[n - 9] == '/') &&
        e.name.find('/') == (n == 8 ? std::string::npos : n - 9))
      prefix = e.name.substr(0, n - 8), ++found;
  }
  VPS_CHECK(found == 1, what, ": zip archive has ", found, " <name>/data.pkl records, expected 1 (not a PyTorch checkpoint?)");
  if (const auto* bo = zip.find(prefix + "byteorder")) {
    std::vector<uint8_t> tmp;
    ByteSpan s = zip.read(*bo, &tmp);
    std::string order(static_cast<const char*>(s.data), s.size);
    VPS_CHECK(order.rfind("little", 0) == 0, what, ": byteorder '", order, "' is not supported (little-endian only)");
  }
  PthTables tables(what);
  auto scratch = std::make_shared<std::map<std::string, std::vector<uint8_t>>>();
  tables.set_zip_loader([&zip, prefix, scratch, what](const std::string& key) {
    const auto* e = zip.find(prefix + "data/" + key);
    VPS_CHECK(e, what, ": storage record '", prefix, "data/", key, "' is missing from the archive");
    return zip.read(*e, &(*scratch)[key]);
  });
  Unpickler u(what, tables.hooks(/*legacy=*/false));
  std::vector<uint8_t> pkl_scratch;
  ByteSpan pkl = zip.read(*zip.find(prefix + "data.pkl"), &pkl_scratch);
  ByteReader r(static_cast<const uint8_t*>(pkl.data), pkl.size, what + " (data.pkl)");
  ObjId root = u.load(r);
  return extract(u, tables, root, opt);
}

PthCheckpoint parse_legacy(const uint8_t* data, size_t size, const std::string& what, const PthOptions& opt) {
  ByteReader r(data, size, what);
  PthTables tables(what);
  Unpickler u(what, tables.hooks(/*legacy=*/true));
  ObjId magic = u.load(r);
  const PyObj& m = u.obj(magic);
  VPS_CHECK(m.kind == PyKind::BigInt && m.s == std::string(reinterpret_cast<const char*>(kLegacyMagic), 10), what,
            ": not a PyTorch checkpoint (bad magic number)");
  int64_t proto = u.as_int(u.load(r), "legacy protocol version");
  VPS_CHECK(proto == kLegacyProtocol, what, ": unsupported legacy protocol version ", proto, " (expected 1001)");
  ObjId sys = u.load(r), little;
  if (u.dict_get(sys, "little_endian", &little))
    VPS_CHECK(u.as_int(little, "little_endian") == 1, what, ": big-endian checkpoints are not supported");
  ObjId root = u.load(r);
  ObjId keys = u.load(r);
  for (ObjId k : u.tuple_items(keys, "list of storage keys")) {
    const std::string& key = u.as_str(k, "storage key");
    uint64_t count = r.u64();
    tables.set_legacy_storage(key, count, r);
  }
  return extract(u, tables, root, opt);
}

}  // namespace

bool looks_like_pth(const uint8_t* data, size_t size) {
  return ZipReader::looks_like_zip(data, size) || (size >= 2 && data[0] == 0x80 && data[1] >= 2 && data[1] <= 5);
}

PthCheckpoint parse_pth(const uint8_t* data, size_t size, const std::string& what, const PthOptions& options) {
  if (ZipReader::looks_like_zip(data, size)) return parse_zip(data, size, what, options);
  VPS_CHECK(!(size >= 262 && std::memcmp(data + 257, "ustar", 5) == 0), what,
            ": tar-format checkpoints (PyTorch < 0.4) are not supported; re-save with a newer torch");
  VPS_CHECK(size >= 2 && data[0] == 0x80, what, ": not a PyTorch checkpoint (neither a zip archive nor a pickle)");
  return parse_legacy(data, size, what, options);
}

PthCheckpoint read_pth(const std::string& path, const PthOptions& options) {
  std::vector<uint8_t> bytes = read_file_bytes(path);
  return parse_pth(bytes.data(), bytes.size(), "'" + path + "'", options);
}

}  // namespace vps
