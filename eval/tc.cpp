#include "eval/tc.h"

#include <cmath>
#include <map>

#include "data/fs_util.h"
#include "data/panoptic.h"
#include "eval/pan_set.h"
#include "layers/flow_ops.h"
#include "tensor/check.h"

namespace vps::eval {

namespace {

// The reference's labels warped onto the target grid. etc: resample2d of the ids as float, truncated
// to uint8 as ETC's cast does; clean: the nearest reference pixel (255 outside the image).
std::vector<uint8_t> warp_labels(const std::vector<uint8_t>& ref, const data::PairFlow& f, TcMode mode) {
  const int64_t H = f.flow.size(1), W = f.flow.size(2);
  std::vector<uint8_t> out(ref.size(), 255);
  if (mode == TcMode::etc) {
    Tensor img = Tensor::from_vector(std::vector<float>(ref.begin(), ref.end()), {1, 1, H, W});
    std::vector<float> w = resample2d(img, f.flow.unsqueeze(0)).to_vector<float>();
    for (size_t i = 0; i < out.size(); ++i) out[i] = uint8_t(w[i]);
    return out;
  }
  std::vector<float> fl = f.flow.contiguous().to_vector<float>();
  const size_t plane = size_t(H * W);
  for (int64_t y = 0; y < H; ++y)
    for (int64_t x = 0; x < W; ++x) {
      size_t i = size_t(y * W + x);
      double xr = std::floor(double(x) + fl[i] + 0.5), yr = std::floor(double(y) + fl[plane + i] + 0.5);
      if (xr >= 0 && yr >= 0 && xr < double(W) && yr < double(H)) out[i] = ref[size_t(int64_t(yr) * W + int64_t(xr))];
    }
  return out;
}

}  // namespace

void add_tc_pair(const std::vector<uint8_t>& target, const std::vector<uint8_t>& reference, const data::PairFlow& f,
                 TcMode mode, int num_classes, TcCounts* c, const std::string& what) {
  const size_t n = size_t(f.flow.size(1) * f.flow.size(2));
  VPS_CHECK(target.size() == n && reference.size() == n, "TC ", what, ": semantic maps of ", target.size(), " and ",
            reference.size(), " pixels for a flow of ", f.flow.size(2), "x", f.flow.size(1));
  VPS_CHECK(num_classes > 0 && num_classes < 255, "TC ", what, ": ", num_classes, " classes (need 1..254)");
  const size_t K = size_t(num_classes);
  c->inter.resize(K, 0);
  c->uni.resize(K, 0);
  std::vector<uint8_t> warped = warp_labels(reference, f, mode);
  std::vector<uint8_t> valid = f.valid.contiguous().to_vector<uint8_t>();
  std::vector<int64_t> inter(K, 0), area_out(K, 0), area_tgt(K, 0);
  for (size_t i = 0; i < n; ++i) {
    uint8_t out = target[i], tgt = warped[i];
    if (mode == TcMode::clean && (!valid[i] || out == 255 || tgt == 255)) continue;
    if (tgt == 255) out = 255;  // intersectionAndUnion: output[target == ignore] = ignore
    if (out < K) area_out[out]++;
    if (tgt < K) area_tgt[tgt]++;
    if (out == tgt && out < K) inter[out]++;
  }
  for (size_t k = 0; k < K; ++k) {
    c->inter[k] += inter[k];
    c->uni[k] += area_out[k] + area_tgt[k] - inter[k];
  }
  c->pairs++;
}

double tc_value(const TcCounts& c, TcMode mode) {
  double sum = 0;
  size_t n = 0;
  for (size_t k = 0; k < c.inter.size(); ++k) {
    if (mode == TcMode::clean && c.uni[k] == 0) continue;
    sum += double(c.inter[k]) / (double(c.uni[k]) + 1e-10);
    ++n;
  }
  return n ? sum / double(n) : 0;
}

namespace {

// The prediction's semantic map (class index in the category list, 255 void) sampled to fw x fh.
std::vector<uint8_t> predicted_semantic(const PanFrame& fr, const std::map<int, uint8_t>& cls, int64_t max_pixels,
                                        int64_t fw, int64_t fh) {
  data::ImageLimits lim;
  lim.max_pixels = max_pixels;
  lim.expect_width = fr.width, lim.expect_height = fr.height, lim.expect_what = fr.size_from;
  int w = 0, h = 0;
  std::vector<uint32_t> ids = load_ids(fr.pred_png, lim, &w, &h);
  std::map<uint32_t, uint8_t> seg;
  for (const SegInfo& s : fr.pred_segs) {
    auto it = cls.find(s.category_id);
    VPS_CHECK(it != cls.end(), fr.pred_png, ": segment ", s.id, " has category ", s.category_id,
              ", not one of the GT json's");
    seg[s.id] = it->second;
  }
  std::vector<uint8_t> out(size_t(fw * fh), 255);
  for (int64_t y = 0; y < fh; ++y)
    for (int64_t x = 0; x < fw; ++x) {
      int64_t sy = std::min<int64_t>(h - 1, y * h / fh), sx = std::min<int64_t>(w - 1, x * w / fw);
      auto it = seg.find(ids[size_t(sy * w + sx)]);
      if (it != seg.end()) out[size_t(y * fw + x)] = it->second;
    }
  return out;
}

}  // namespace

TcReport evaluate_tc(const std::string& pred_dir, const std::string& gt_json, const std::string& flow_dir,
                     const TcOptions& o) {
  VPS_CHECK(o.step >= 1, "TC: step must be >= 1, got ", o.step);
  // The GT panoptic PNGs are not read: only the frame list, sizes, the categories and the prediction.
  PanSet set = load_pan_set(pred_dir, "", gt_json, o.video_len, o.max_pixels);
  nlohmann::json gt = data::read_json(gt_json);
  const nlohmann::json& images = data::json_at(gt, "images", gt_json);
  TcReport r;
  std::map<int, uint8_t> cls;
  for (size_t k = 0; k < set.categories.size(); ++k) {
    cls[set.categories[k].id] = uint8_t(k);
    r.class_names.push_back(set.categories[k].name);
  }
  const int K = int(set.categories.size());
  for (const auto& [begin, end] : set.videos)
    for (size_t i = begin; i + size_t(o.step) < end; ++i) {
      const size_t j = i + size_t(o.step);
      std::string wt = gt_json + " images[" + std::to_string(i) + "]", wr = gt_json + " images[" + std::to_string(j) + "]";
      std::string target = data::json_str(images[i], "file_name", wt), ref = data::json_str(images[j], "file_name", wr);
      std::string path = data::pair_flow_file(flow_dir, target, ref);
      data::PairFlow f = data::read_pair_flow(path);
      VPS_CHECK(set.frames[i].width > 0 && set.frames[i].height > 0, wt, ": TC needs the image width and height");
      int64_t fh = std::max(1, int(set.frames[i].height * f.scale + 0.5));
      int64_t fw = std::max(1, int(set.frames[i].width * f.scale + 0.5));
      data::check_pair_flow_matches(f, path, target, ref, fh, fw, f.scale);
      add_tc_pair(predicted_semantic(set.frames[i], cls, o.max_pixels, fw, fh),
                  predicted_semantic(set.frames[j], cls, o.max_pixels, fw, fh), f, o.mode, K, &r.counts, path);
    }
  VPS_CHECK(r.counts.pairs > 0, "TC: no frame pairs (", set.frames.size(), " frames, video length ", o.video_len,
            ", step ", o.step, ")");
  r.tc = tc_value(r.counts, o.mode);
  return r;
}

void write_tc_report(const TcReport& r, const TcOptions& o, const std::string& out_dir) {
  nlohmann::json per_class = nlohmann::json::object();
  for (size_t k = 0; k < r.class_names.size(); ++k)
    per_class[r.class_names[k]] = {{"intersection", r.counts.inter[k]}, {"union", r.counts.uni[k]}};
  const char* mode = o.mode == TcMode::etc ? "etc" : "clean";
  data::write_json(out_dir + "/tc.json",
                   {{"mode", mode}, {"tc", r.tc}, {"pairs", r.counts.pairs}, {"step", o.step}, {"classes", per_class}}, 1);
}

}  // namespace vps::eval
