#include "eval/vpq.h"


#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include "tensor/check.h"
#include "tensor/parallel.h"

namespace vps::eval {

namespace {
constexpr uint64_t kOffsetBits = 24;  // OFFSET = 256^3
constexpr uint64_t kPredMask = (uint64_t(1) << kOffsetBits) - 1;
}  // namespace

FrameStats frame_stats(const std::vector<uint32_t>& gt_ids, const std::vector<uint32_t>& pred_ids,
                       const std::vector<SegInfo>& gt_segs, const std::vector<SegInfo>& pred_segs,
                       const std::vector<data::Category>& cats, const std::string& where) {
  VPS_CHECK(gt_ids.size() == pred_ids.size(), where, ": GT has ", gt_ids.size(), " pixels, prediction ",
            pred_ids.size());
  FrameStats fs;
  std::unordered_map<uint64_t, int64_t> counts;
  uint64_t last = ~uint64_t(0);
  int64_t run = 0;
  for (size_t i = 0; i < gt_ids.size(); ++i) {
    uint64_t key = (uint64_t(gt_ids[i]) << kOffsetBits) | pred_ids[i];
    if (key == last) {
      ++run;
      continue;
    }
    if (run) counts[last] += run;
    last = key;
    run = 1;
  }
  if (run) counts[last] += run;
  fs.pairs.assign(counts.begin(), counts.end());
  std::sort(fs.pairs.begin(), fs.pairs.end());
  // GT segments: duplicate ids merged (area summed), first occurrence keeps category and crowd flag.
  std::unordered_map<uint32_t, size_t> gi, pi;
  for (const auto& s : gt_segs) {
    auto it = gi.find(s.id);
    if (it != gi.end()) fs.gt[it->second].area += s.area;
    else gi[s.id] = fs.gt.size(), fs.gt.push_back(s);
  }
  for (const auto& s : pred_segs)
    if (!pi.count(s.id)) pi[s.id] = fs.pred.size(), fs.pred.push_back(s);
  // Prediction areas are recounted from the PNG, in ascending id order as numpy.unique gives them.
  std::map<uint32_t, int64_t> pred_area;
  for (const auto& [key, c] : fs.pairs) pred_area[uint32_t(key & kPredMask)] += c;
  std::vector<bool> seen(fs.pred.size(), false);
  for (const auto& [label, cnt] : pred_area) {
    auto it = pi.find(label);
    if (it == pi.end()) {
      if (label == data::kVoidId) continue;
      VPS_FAIL(where, ": segment with id ", label, " is present in the PNG and not in the JSON");
    }
    SegInfo& p = fs.pred[it->second];
    p.area = cnt;
    seen[it->second] = true;
    bool known = std::any_of(cats.begin(), cats.end(), [&](const data::Category& c) { return c.id == p.category_id; });
    VPS_CHECK(known, where, ": segment with id ", label, " has unknown category_id ", p.category_id);
  }
  std::string missing;
  for (size_t i = 0; i < fs.pred.size(); ++i)
    if (!seen[i]) missing += (missing.empty() ? "" : ", ") + std::to_string(fs.pred[i].id);
  VPS_CHECK(missing.empty(), where, ": segment ids [", missing, "] are present in the JSON and not in the PNG");
  return fs;
}

FrameStats load_frame_stats(const PanFrame& f, const std::vector<data::Category>& cats, int64_t max_pixels) {
  int w = 0, h = 0;
  std::vector<uint32_t> gt, pred;
  load_frame_ids(f, max_pixels, &gt, &pred, &w, &h);
  return frame_stats(gt, pred, f.gt_segs, f.pred_segs, cats, "image " + f.image_id + " (" + f.pred_png + ")");
}

namespace {
// Tube segments of a window in first-appearance order, with an id -> index lookup.
struct Tubes {
  std::vector<SegInfo> segs;
  std::unordered_map<uint32_t, size_t> index;
  void add(const SegInfo& s) {
    auto it = index.find(s.id);
    if (it != index.end()) segs[it->second].area += s.area;
    else index[s.id] = segs.size(), segs.push_back(s);
  }
  const SegInfo* find(uint32_t id) const {
    auto it = index.find(id);
    return it == index.end() ? nullptr : &segs[it->second];
  }
};
}  // namespace

CatStats vpq_video(const FrameStats* frames, size_t count, int nframes, bool viper) {
  CatStats stats;
  const int64_t kSizeThr = 32 * 32;
  for (int start = 0; start + nframes <= int(count); ++start) {
    Tubes gt, pred;
    std::map<uint64_t, int64_t> gpm;
    for (int t = start; t < start + nframes; ++t) {
      for (const auto& s : frames[t].gt) gt.add(s);
      for (const auto& s : frames[t].pred) pred.add(s);
      for (const auto& [k, c] : frames[t].pairs) gpm[k] += c;
    }
    auto inter = [&](uint32_t g, uint32_t p) -> int64_t {
      auto it = gpm.find((uint64_t(g) << kOffsetBits) | p);
      return it == gpm.end() ? 0 : it->second;
    };
    std::unordered_set<uint32_t> gt_matched, pred_matched;
    for (const auto& [key, in] : gpm) {
      uint32_t gl = uint32_t(key >> kOffsetBits), pl = uint32_t(key & kPredMask);
      const SegInfo* g = gt.find(gl);
      const SegInfo* p = pred.find(pl);
      if (!g || !p) continue;
      if (viper && g->area < kSizeThr) continue;
      if (g->iscrowd == 1 || g->category_id != p->category_id) continue;
      int64_t uni = p->area + g->area - in - inter(data::kVoidId, pl);
      VPS_CHECK(uni > 0, "GT segment ", gl, ": tube union ", uni, " is not positive (GT json area inconsistent)");
      double iou = double(in) / double(uni);
      VPS_CHECK(iou <= 1.0, "invalid IoU value ", iou, " for GT segment ", gl, " (GT json area inconsistent)");
      if (iou > 0.5) {
        ClassStat& c = stats[g->category_id];
        c.tp += 1;
        c.iou += iou;
        gt_matched.insert(gl);
        pred_matched.insert(pl);
      }
    }
    std::map<int, uint32_t> crowd_of;  // category -> last unmatched crowd segment (dict semantics)
    for (const auto& g : gt.segs) {
      if (gt_matched.count(g.id)) continue;
      if (viper && g.area < kSizeThr) continue;
      if (g.iscrowd == 1) {
        crowd_of[g.category_id] = g.id;
        continue;
      }
      stats[g.category_id].fn += 1;
    }
    for (const auto& p : pred.segs) {
      if (pred_matched.count(p.id)) continue;
      int64_t ign = inter(data::kVoidId, p.id);
      auto c = crowd_of.find(p.category_id);
      if (c != crowd_of.end()) ign += inter(c->second, p.id);
      if (double(ign) / double(p.area) > 0.5) continue;
      stats[p.category_id].fp += 1;
    }
  }
  return stats;
}

PqAverage pq_average(const CatStats& s, const std::vector<data::Category>& cats, int which, int skip_category) {
  PqAverage r;
  for (const auto& c : cats) {
    if (c.id == skip_category) continue;
    if ((which == 1 && !c.isthing) || (which == 2 && c.isthing)) continue;
    auto it = s.find(c.id);
    if (it == s.end()) continue;
    const ClassStat& k = it->second;
    if (k.tp + k.fp + k.fn == 0) continue;
    r.n += 1;
    double denom = double(k.tp) + 0.5 * double(k.fp) + 0.5 * double(k.fn);
    r.pq += k.iou / denom;
    r.sq += k.tp ? k.iou / double(k.tp) : 0.0;
    r.rq += double(k.tp) / denom;
  }
  if (r.n > 0) {
    r.pq /= r.n;
    r.sq /= r.n;
    r.rq /= r.n;
  }
  return r;
}

VpqResult evaluate_vpq(const PanSet& set, const VpqOptions& opt) {
  VpqResult res;
  res.categories = set.categories;
  res.viper = opt.viper;
  std::vector<int> windows = opt.viper ? std::vector<int>{5, 10, 15} : opt.windows;
  std::vector<FrameStats> fstats(set.frames.size());
  parallel_for_each(int64_t(set.frames.size()), opt.threads,
                    [&](int64_t i) { fstats[size_t(i)] = load_frame_stats(set.frames[size_t(i)], set.categories, set.max_pixels); });
  for (int nf : windows) {
    VpqWindow w;
    w.nframes = nf;
    w.name = "vpq-" + std::to_string(opt.viper ? nf : (nf - 1) * 5);
    std::vector<CatStats> per_video(set.videos.size());
    parallel_for_each(int64_t(set.videos.size()), opt.threads, [&](int64_t v) {
      const auto& [b, e] = set.videos[size_t(v)];
      per_video[size_t(v)] = vpq_video(fstats.data() + b, e - b, nf, opt.viper);
    });
    for (const auto& pv : per_video)  // PQStat.__iadd__ in video order
      for (const auto& [cat, s] : pv) {
        ClassStat& t = w.stats[cat];
        t.iou += s.iou;
        t.tp += s.tp;
        t.fp += s.fp;
        t.fn += s.fn;
      }
    int skip = opt.viper ? 11 : -1;
    w.all = pq_average(w.stats, set.categories, 0, skip);
    w.things = pq_average(w.stats, set.categories, 1, skip);
    w.stuff = pq_average(w.stats, set.categories, 2, skip);
    res.windows.push_back(std::move(w));
  }
  double a = 0, t = 0, s = 0;
  for (const auto& w : res.windows) {
    a += 100 * w.all.pq;
    t += 100 * w.things.pq;
    s += 100 * w.stuff.pq;
  }
  double n = double(res.windows.size());
  res.final_all = a / n;
  res.final_thing = t / n;
  res.final_stuff = s / n;
  return res;
}

}  // namespace vps::eval
