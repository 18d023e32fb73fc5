#include "infer/flow_cache.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "autograd/grad_mode.h"
#include "data/fs_util.h"
#include "data/image_io.h"
#include "data/image_tensor.h"
#include "data/panoptic.h"
#include "data/path_lock.h"
#include "data/train_flow.h"
#include "ops/ops.h"
#include "tensor/check.h"

namespace vps::infer {

std::vector<FlowPair> flow_pairs(const data::CityscapesVps& ds, const std::vector<int>& offsets, int64_t* missing) {
  std::vector<FlowPair> out;
  int64_t miss = 0;
  for (const data::CvpsVideo& v : ds.videos()) {
    std::map<int, std::pair<std::string, std::string>> by_index;  // frame index -> (file, path)
    for (size_t j : v.all) by_index[ds.all_frames()[j].frame_index] = {ds.all_frames()[j].file, ds.all_frame_path(j)};
    for (size_t i : v.labelled) by_index[ds.frames()[i].frame_index] = {ds.frames()[i].image_file, ds.image_path(i)};
    if (by_index.empty()) continue;
    const int first = by_index.begin()->first, last = by_index.rbegin()->first;
    for (size_t i : v.labelled) {
      const data::CvpsFrame& f = ds.frames()[i];
      VPS_CHECK(f.frame_index > 0, "vps flow: labelled frame ", f.name, " has no frame index (the instances json's frame_id)");
      for (int off : offsets) {
        int r = std::min(std::max(f.frame_index + off, first), last);
        auto it = by_index.find(r);
        if (r == f.frame_index) continue;  // clamped onto itself: the sampler pairs it with itself, zero flow
        if (it == by_index.end()) {
          ++miss;
          continue;
        }
        out.push_back(FlowPair{i, off, f.image_file, it->second.first, ds.image_path(i), it->second.second, f.height,
                               f.width});
      }
    }
  }
  if (missing) *missing = miss;
  return out;
}

namespace {

Tensor load_normalised(const std::string& path) { return normalized_image(data::read_image(path), path); }

bool usable(const std::string& file, const FlowPair& p, int64_t h, int64_t w) {
  if (!data::path_exists(file)) return false;
  try {
    data::PairFlow f = data::read_pair_flow(file);
    data::check_pair_flow_matches(f, file, p.target_file, p.ref_file, h, w, 0.25);
    return f.source == "flownet2";
  } catch (const Error&) {
    return false;  // broken or made for another pair or size: computed again
  }
}

}  // namespace

FlowCacheStats compute_flow_cache(const models::FlowNet2& net, const std::vector<FlowPair>& pairs,
                                  const std::string& out_dir, const FlowCacheOptions& o) {
  data::PathLock lock(data::check_output_location(out_dir, o.inputs, "vps flow --out"));
  data::make_dirs(out_dir);
  autograd::NoGradGuard ng;
  FlowCacheStats st;
  st.pairs = int64_t(pairs.size());
  int64_t done = 0;
  for (const FlowPair& p : pairs) {
    const std::string file = data::pair_flow_file(out_dir, p.target_file, p.ref_file);
    const int64_t h = p.height / 4, w = p.width / 4;  // compute_flow's grid; resuming decodes no image
    if (usable(file, p, h, w)) {
      ++st.kept;
    } else {
      Tensor img = load_normalised(p.target_path), ref = load_normalised(p.ref_path);
      VPS_CHECK(img.size(2) == p.height && img.size(3) == p.width, "vps flow: ", p.target_path, " is ", img.size(3),
                "x", img.size(2), ", its index says ", p.width, "x", p.height);
      VPS_CHECK(ref.size(2) == img.size(2) && ref.size(3) == img.size(3), "vps flow: ", p.target_path, " (",
                img.size(3), "x", img.size(2), ") and ", p.ref_path, " (", ref.size(3), "x", ref.size(2),
                ") differ in size");
      Tensor flow = models::compute_flow(net, img.to(net.options().dtype), ref.to(net.options().dtype));
      data::PairFlow pf;
      pf.flow = reshape(flow, {2, flow.size(2), flow.size(3)}).to(DType::f32).contiguous();
      pf.valid = Tensor::full({1, flow.size(2), flow.size(3)}, 1.0, DType::u8);
      pf.scale = 0.25, pf.source = "flownet2", pf.target = p.target_file, pf.reference = p.ref_file;
      data::write_pair_flow(file, pf, o.float16);
      ++st.computed;
    }
    ++done;
    if (o.progress) o.progress(done, st.pairs, st.computed);
  }
  return st;
}

double flow_epe(const data::PairFlow& est, const data::PairFlow& exact) {
  const int64_t h = est.flow.size(1), w = est.flow.size(2);
  data::TrainingFlow e = data::transform_pair_flow(exact, false, int(h), int(w));
  std::vector<float> a = est.flow.contiguous().to_vector<float>(), b = e.flow.contiguous().to_vector<float>();
  std::vector<float> va = e.valid.contiguous().to_vector<float>();
  std::vector<uint8_t> ve = est.valid.contiguous().to_vector<uint8_t>();
  double sum = 0;
  int64_t n = 0;
  const size_t hw = size_t(h * w);
  for (size_t q = 0; q < hw; ++q)
    if (va[q] > 0.5f && ve[q]) {
      sum += std::hypot(double(a[q]) - b[q], double(a[hw + q]) - b[hw + q]);
      ++n;
    }
  return n ? sum / double(n) : -1;
}

CacheEpe evaluate_flow_cache(const std::vector<FlowPair>& pairs, const std::string& cache_dir,
                             const std::string& exact_dir) {
  double sum = 0;
  int64_t n = 0;
  for (const auto& p : pairs) {
    std::string exact = data::pair_flow_file(exact_dir, p.target_file, p.ref_file);
    if (!data::path_exists(exact)) continue;
    double e = flow_epe(data::read_pair_flow(data::pair_flow_file(cache_dir, p.target_file, p.ref_file)),
                        data::read_pair_flow(exact));
    if (e >= 0) sum += e, ++n;
  }
  VPS_CHECK(n > 0, "vps flow --eval: no exact flow of these pairs in ", exact_dir, " (vps synth --flow-offsets)");
  CacheEpe r{sum / double(n), n};
  data::write_json(data::join_path(cache_dir, "epe.json"),
                   {{"epe_quarter_px", r.epe}, {"epe_full_px", 4 * r.epe}, {"pairs", r.pairs}}, 1);
  return r;
}

}  // namespace vps::infer
