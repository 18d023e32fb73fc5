#include "tensor/io/weights_file.h"

#include <cstdio>
#include <cstring>
#include <set>
#include <sstream>

#include "tensor/io/npy.h"
#include "tensor/io/safetensors.h"
#include "tensor/io/zip_reader.h"

namespace vps {

const char* weight_format_name(WeightFormat f) {
  switch (f) {
    case WeightFormat::safetensors: return "safetensors";
    case WeightFormat::npy: return "npy";
    case WeightFormat::pth_zip: return "pytorch (zip)";
    case WeightFormat::pth_legacy: return "pytorch (legacy)";
  }
  return "?";
}

namespace {
std::string stem(const std::string& path) {
  size_t s = path.rfind('/');
  std::string base = s == std::string::npos ? path : path.substr(s + 1);
  size_t dot = base.rfind('.');
  return dot == std::string::npos || dot == 0 ? base : base.substr(0, dot);
}

std::string human_bytes(uint64_t n) {
  char buf[32];
  if (n < 1024) std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(n));
  else if (n < (1u << 20)) std::snprintf(buf, sizeof buf, "%.1f KiB", n / 1024.0);
  else if (n < (1u << 30)) std::snprintf(buf, sizeof buf, "%.1f MiB", n / 1048576.0);
  else std::snprintf(buf, sizeof buf, "%.2f GiB", n / 1073741824.0);
  return buf;
}
}  // namespace

WeightsFile load_weights(const std::string& path, const PthOptions& pth) {
  std::vector<uint8_t> bytes = read_file_bytes(path);
  const uint8_t* d = bytes.data();
  size_t n = bytes.size();
  std::string what = "'" + path + "'";
  WeightsFile w;
  if (n >= 6 && std::memcmp(d, "\x93NUMPY", 6) == 0) {
    w.format = WeightFormat::npy;
    w.arrays.emplace_back(stem(path), parse_npy(d, n, what));
  } else if (looks_like_pth(d, n)) {
    w.format = ZipReader::looks_like_zip(d, n) ? WeightFormat::pth_zip : WeightFormat::pth_legacy;
    PthCheckpoint ck = parse_pth(d, n, what, pth);
    w.arrays = std::move(ck.arrays);
    if (!ck.meta_json.empty()) w.metadata["meta"] = ck.meta_json;
  } else {
    VPS_CHECK(n >= 9 && d[8] == '{', what, ": unknown file format (not .safetensors, .npy or a PyTorch checkpoint)");
    w.format = WeightFormat::safetensors;
    SafetensorsFile f = parse_safetensors(d, n, what);
    w.arrays = std::move(f.arrays);
    w.metadata = std::move(f.metadata);
  }
  return w;
}

std::string describe_weights(const std::string& path, const WeightsFile& w) {
  std::ostringstream os;
  size_t width = 4;
  for (const auto& [name, a] : w.arrays) width = std::max(width, name.size());
  os << path << ": " << weight_format_name(w.format) << ", " << w.arrays.size() << (w.arrays.size() == 1 ? " tensor\n" : " tensors\n");
  char line[64];
  os << "name" << std::string(width - 4 + 2, ' ') << "dtype     shape                 bytes\n";
  uint64_t total = 0, elems = 0;
  for (const auto& [name, a] : w.arrays) {
    std::snprintf(line, sizeof line, "%-9s %-21s %llu", dtype_name(a.dtype), shape_str(a.shape).c_str(),
                  static_cast<unsigned long long>(a.nbytes()));
    os << name << std::string(width - name.size() + 2, ' ') << line << "\n";
    total += a.nbytes();
    elems += uint64_t(a.numel());
  }
  os << "total: " << w.arrays.size() << (w.arrays.size() == 1 ? " tensor, " : " tensors, ") << elems << " elements, " << total << " bytes ("
     << human_bytes(total) << ")\n";
  for (const auto& [k, v] : w.metadata)
    os << "metadata " << k << ": " << (v.size() > 200 ? v.substr(0, 200) + "..." : v) << "\n";
  return os.str();
}

KeyReport compare_keys(const NamedArrays& file, const std::map<std::string, std::vector<int64_t>>& expected) {
  KeyReport r;
  std::set<std::string> seen;
  for (const auto& [name, a] : file) {
    seen.insert(name);
    auto it = expected.find(name);
    if (it == expected.end()) r.unexpected.push_back(name);
    else if (it->second != a.shape) r.mismatched.push_back({name, a.shape, it->second});
  }
  for (const auto& [name, shape] : expected)
    if (!seen.count(name)) r.missing.push_back(name);
  return r;
}

std::string KeyReport::to_string() const {
  std::ostringstream os;
  if (ok()) return "all keys match";
  for (const auto& m : missing) os << "missing: " << m << "\n";
  for (const auto& u : unexpected) os << "unexpected: " << u << "\n";
  for (const auto& m : mismatched)
    os << "shape mismatch: " << m.name << " file " << shape_str(m.file_shape) << " expected "
       << shape_str(m.expected_shape) << "\n";
  os << missing.size() << " missing, " << unexpected.size() << " unexpected, " << mismatched.size()
     << " mis-shaped\n";
  return os.str();
}

}  // namespace vps
