// The fuzzed readers, one function each: run on one input, refuse it only with vps::Error.
// Used by the libFuzzer binaries (fuzz/fuzz_target.cpp, `make fuzz`) and by the test suite, which
// replays the seed corpora and the committed regression inputs (tests/test_fuzz_regressions.cpp).
#pragma once
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "data/cityscapes_vps.h"
#include "data/flow_io.h"
#include "data/fs_util.h"
#include "data/image_io.h"
#include "data/rle.h"
#include "eval/pan_set.h"
#include "tensor/io/npy.h"
#include "tensor/io/pth_reader.h"
#include "tensor/io/raw_array.h"
#include "tensor/io/safetensors.h"
#include "tensor/io/unpickler.h"
#include "train/run_config.h"

namespace vps::fuzz {

// A private scratch folder for readers that take paths (made once per process, under $TMPDIR).
inline const std::string& scratch_dir() {
  static const std::string dir = [] {
    const char* tmp = getenv("TMPDIR");
    std::string t = std::string(tmp && *tmp ? tmp : "/tmp") + "/vps-fuzz.XXXXXX";
    std::vector<char> buf(t.begin(), t.end());
    buf.push_back('\0');
    VPS_CHECK(mkdtemp(buf.data()), "fuzz: cannot make a scratch folder under ", t);
    return std::string(buf.data());
  }();
  return dir;
}

// Splits the input at NUL bytes into at most `max_parts` parts (how one input makes several files).
inline std::vector<std::string> split_parts(const uint8_t* data, size_t size, size_t max_parts) {
  std::vector<std::string> parts(1);
  for (size_t i = 0; i < size; ++i) {
    if (data[i] == 0 && parts.size() < max_parts) parts.emplace_back();
    else parts.back().push_back(char(data[i]));
  }
  return parts;
}

// A plain write (no fsync: the fuzzer writes these files thousands of times a second).
inline void put_file(const std::string& path, const std::string& text) {
  FILE* f = std::fopen(path.c_str(), "wb");
  VPS_CHECK(f, "fuzz: cannot write ", path);
  std::fwrite(text.data(), 1, text.size(), f);
  std::fclose(f);
}

inline data::ImageLimits small_limits() {
  data::ImageLimits lim;
  lim.max_pixels = 1 << 22;  // small, so that the size checks are exercised
  return lim;
}

inline void png(const uint8_t* d, size_t n) { data::decode_png(d, n, "fuzz.png", small_limits()); }
inline void jpeg(const uint8_t* d, size_t n) { data::decode_jpeg(d, n, "fuzz.jpg", small_limits()); }
inline void safetensors(const uint8_t* d, size_t n) { parse_safetensors(d, n, "fuzz.safetensors"); }
inline void npy(const uint8_t* d, size_t n) { parse_npy(d, n, "fuzz.npy"); }
// Both torch.save formats: zip (directory, ZIP64, deflate, data.pkl, storages) and legacy.
inline void pth(const uint8_t* d, size_t n) { parse_pth(d, n, "fuzz.pth"); }

// The restricted unpickler alone: persistent ids and torch calls answered with placeholders, then
// the root turned into JSON as checkpoint metadata is.
inline void unpickler(const uint8_t* d, size_t n) {
  Unpickler::Hooks hooks;
  hooks.persistent_load = [](Unpickler& u, ObjId) { return u.make(PyKind::Storage); };
  hooks.call_torch = [](Unpickler& u, const std::string&, ObjId) { return u.make(PyKind::Tensor); };
  Unpickler u("fuzz.pkl", hooks);
  ByteReader r(d, n, "fuzz.pkl");
  ObjId root = u.load(r);
  u.to_json(root, [](int64_t i) { return nlohmann::ordered_json(i); });
}

// `vps eval`'s panoptic JSON readers: input = GT json, NUL, pred.json (no NUL: the same text twice).
inline void pan_json(const uint8_t* d, size_t n) {
  static const std::string dir = scratch_dir() + "/pan", pred_dir = dir + "/pred";
  static const bool made = (data::make_dirs(pred_dir), true);
  (void)made;
  auto parts = split_parts(d, n, 2);
  put_file(dir + "/gt.json", parts[0]);
  put_file(pred_dir + "/pred.json", parts.back());
  eval::load_pan_set(pred_dir, dir, dir + "/gt.json", 2, small_limits().max_pixels);
}

// The Cityscapes-VPS index: panoptic_im, panoptic_gt, instances_rle and im_all_info json files,
// NUL-separated (an empty part leaves the file out); the first part also as an RLE segmentation.
inline void cvps_json(const uint8_t* d, size_t n) {
  static const std::string root = scratch_dir() + "/cvps";
  static const bool made = (data::make_dirs(root), true);
  (void)made;
  static const char* names[4] = {"panoptic_im_train_city_vps.json", "panoptic_gt_train_city_vps.json",
                                 "instances_train_city_vps_rle.json", "im_all_info_train_city_vps.json"};
  auto parts = split_parts(d, n, 4);
  for (size_t k = 0; k < 4; ++k) {
    std::string path = root + "/" + names[k];
    if (k < parts.size() && !parts[k].empty()) put_file(path, parts[k]);
    else std::remove(path.c_str());
  }
  auto segm = nlohmann::json::parse(parts[0], nullptr, /*allow_exceptions=*/false);
  if (!segm.is_discarded()) {
    try {
      data::rle_decode(segm, 7, 5, "fuzz rle");
    } catch (const Error&) {
    }
  }
  data::CityscapesVps ds(root, "train");
  for (size_t i = 0; i < ds.frames().size(); ++i) ds.neighbours(i, 2);
}

// A pair-flow file (data/flow_io.h: safetensors with flow, valid and metadata), read as vps flow's
// cache, the trainer and vps eval tc read it.
inline void pair_flow(const uint8_t* d, size_t n) {
  static const std::string path = scratch_dir() + "/flow.safetensors";
  put_file(path, std::string(reinterpret_cast<const char*>(d), n));
  data::read_pair_flow(path);
}

// A train config as vps train reads it (train/run_config.h): the JSON text, its model inline or a path
// (a path outside the scratch folder is refused by name like any unreadable file); no overrides.
inline void train_config(const uint8_t* d, size_t n) {
  auto j = nlohmann::json::parse(d, d + n, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return;
  train::run_config(j, scratch_dir(), {});
}

struct Target {
  const char* name;
  void (*run)(const uint8_t*, size_t);
};
inline const std::vector<Target>& targets() {
  static const std::vector<Target> t = {{"png", png},   {"jpeg", jpeg},           {"safetensors", safetensors},
                                        {"npy", npy},   {"pth", pth},             {"unpickler", unpickler},
                                        {"pan_json", pan_json}, {"cvps_json", cvps_json},
                                        {"pair_flow", pair_flow}, {"train_config", train_config}};
  return t;
}

}  // namespace vps::fuzz
