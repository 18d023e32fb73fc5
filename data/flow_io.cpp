#include "data/flow_io.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include "data/fs_util.h"
#include "tensor/io/safetensors.h"
#include "tensor/io/tensor_io.h"

namespace vps::data {

namespace {

std::string stem_of(const std::string& file) {
  size_t slash = file.find_last_of('/');
  std::string name = slash == std::string::npos ? file : file.substr(slash + 1);
  size_t dot = name.find_last_of('.');
  return dot == std::string::npos || dot == 0 ? name : name.substr(0, dot);
}

const std::string& meta(const std::map<std::string, std::string>& md, const std::string& key, const std::string& path) {
  auto it = md.find(key);
  VPS_CHECK(it != md.end(), "pair flow ", path, ": metadata key '", key, "' is missing");
  return it->second;
}

int64_t meta_int(const std::map<std::string, std::string>& md, const std::string& key, const std::string& path) {
  const std::string& s = meta(md, key, path);
  char* end = nullptr;
  long long v = std::strtoll(s.c_str(), &end, 10);
  VPS_CHECK(!s.empty() && *end == 0 && v > 0, "pair flow ", path, ": metadata '", key, "' = '", s,
            "' is not a positive integer");
  return int64_t(v);
}

std::string format_scale(double s) {
  std::ostringstream os;
  os.precision(17);
  os << s;
  return os.str();
}

void check_tensors(const Tensor& flow, const Tensor& valid, const std::string& path) {
  VPS_CHECK(flow.defined() && flow.dim() == 3 && flow.size(0) == 2, "pair flow ", path,
            ": 'flow' must be (2, H, W), got ", flow.defined() ? shape_str(flow.shape()) : "none");
  VPS_CHECK(valid.defined() && valid.dim() == 3 && valid.size(0) == 1 && valid.size(1) == flow.size(1) &&
                valid.size(2) == flow.size(2),
            "pair flow ", path, ": 'valid' must be (1, ", flow.size(1), ", ", flow.size(2), ") like 'flow' ",
            shape_str(flow.shape()), ", got ", valid.defined() ? shape_str(valid.shape()) : "none");
  VPS_CHECK(valid.dtype() == DType::u8, "pair flow ", path, ": 'valid' must be uint8, got ", dtype_name(valid.dtype()));
  // A NaN or infinite flow would warp to NaN and score or train on it silently: refused on read and write.
  int64_t bad = first_non_finite(flow);
  if (bad >= 0) {
    const int64_t hw = flow.size(1) * flow.size(2);
    VPS_FAIL("pair flow ", path, ": 'flow' holds a non-finite value (channel ", bad / hw, ", y ",
             bad % hw / flow.size(2), ", x ", bad % flow.size(2), ")");
  }
}

}  // namespace

std::string pair_flow_file(const std::string& dir, const std::string& target_file, const std::string& ref_file) {
  return join_path(dir, stem_of(target_file) + "__" + stem_of(ref_file) + ".safetensors");
}

PairFlow read_pair_flow(const std::string& path) {
  SafetensorsFile file = read_safetensors(path);
  PairFlow f;
  for (auto& [name, a] : file.arrays) {
    if (name == "flow") {
      VPS_CHECK(a.dtype == DType::f32 || a.dtype == DType::f16, "pair flow ", path,
                ": 'flow' must be float32 or float16, got ", dtype_name(a.dtype));
      f.flow = from_raw(a);
    } else if (name == "valid") {
      f.valid = from_raw(a);
    }
  }
  VPS_CHECK(f.flow.defined(), "pair flow ", path, ": tensor 'flow' is missing");
  VPS_CHECK(f.valid.defined(), "pair flow ", path, ": tensor 'valid' is missing");
  check_tensors(f.flow, f.valid, path);
  const auto& md = file.metadata;
  int64_t h = meta_int(md, "height", path), w = meta_int(md, "width", path);
  VPS_CHECK(h == f.flow.size(1) && w == f.flow.size(2), "pair flow ", path, ": metadata height x width ", h, "x", w,
            " disagrees with 'flow' ", shape_str(f.flow.shape()));
  const std::string& s = meta(md, "scale", path);
  char* end = nullptr;
  f.scale = std::strtod(s.c_str(), &end);
  VPS_CHECK(!s.empty() && *end == 0 && std::isfinite(f.scale) && f.scale > 0, "pair flow ", path,
            ": metadata 'scale' = '", s, "' is not a positive number");
  f.target = meta(md, "target", path);
  f.reference = meta(md, "reference", path);
  f.source = meta(md, "source", path);
  return f;
}

void write_pair_flow(const std::string& path, const PairFlow& f, bool float16) {
  check_tensors(f.flow, f.valid, path);
  VPS_CHECK(f.flow.dtype() == DType::f32, "pair flow ", path, ": 'flow' must be float32, got ",
            dtype_name(f.flow.dtype()));
  VPS_CHECK(std::isfinite(f.scale) && f.scale > 0, "pair flow ", path, ": scale must be positive, got ", f.scale);
  VPS_CHECK(!f.target.empty() && !f.reference.empty() && !f.source.empty(), "pair flow ", path,
            ": target, reference and source must be named");
  RawArray flow = to_raw(f.flow);
  if (float16) {
    RawArray h;
    h.dtype = DType::f16;
    h.shape = flow.shape;
    h.data.resize(flow.data.size() / 2);
    const float* src = reinterpret_cast<const float*>(flow.data.data());
    for (size_t i = 0; i < h.data.size() / 2; ++i) {
      uint16_t v = float_to_half(src[i]);
      std::memcpy(&h.data[2 * i], &v, 2);
    }
    flow = std::move(h);
  }
  std::map<std::string, std::string> md = {{"target", f.target},
                                           {"reference", f.reference},
                                           {"height", std::to_string(f.flow.size(1))},
                                           {"width", std::to_string(f.flow.size(2))},
                                           {"scale", format_scale(f.scale)},
                                           {"source", f.source}};
  write_safetensors(path, {{"flow", flow}, {"valid", to_raw(f.valid)}}, md);
}

void check_pair_flow_matches(const PairFlow& f, const std::string& path, const std::string& target_file,
                             const std::string& ref_file, int64_t height, int64_t width, double scale) {
  VPS_CHECK(f.target == target_file && f.reference == ref_file, "pair flow ", path, " was made for the pair (",
            f.target, ", ", f.reference, "), expected (", target_file, ", ", ref_file, ")");
  VPS_CHECK(f.flow.size(1) == height && f.flow.size(2) == width, "pair flow ", path, " is ", f.flow.size(1), "x",
            f.flow.size(2), ", expected ", height, "x", width);
  VPS_CHECK(std::fabs(f.scale - scale) <= 1e-9 * scale, "pair flow ", path, " has scale ", format_scale(f.scale),
            ", expected ", format_scale(scale));
}

}  // namespace vps::data
