#include "eval/stq.h"

#include <algorithm>
#include <cmath>
#include <unordered_map>

#include "data/fs_util.h"
#include "eval/vpq.h"
#include "tensor/check.h"
#include "tensor/parallel.h"

namespace vps::eval {

StqAccumulator::StqAccumulator(int num_classes, std::vector<int> thing_classes)
    : nc_(num_classes), is_thing_(size_t(num_classes), false) {
  VPS_CHECK(num_classes > 0 && num_classes < 255, "STQ: num_classes must be in 1..254, got ", num_classes);
  for (int c : thing_classes) {
    VPS_CHECK(c >= 0 && c < num_classes, "STQ: thing class ", c, " out of range");
    is_thing_[size_t(c)] = true;
  }
}

void StqAccumulator::add(const std::string& sequence, const StqFrame& f) {
  size_t n = f.gt_sem.size();
  VPS_CHECK(f.pred_sem.size() == n && f.gt_track.size() == n && f.pred_track.size() == n,
            "STQ: frame arrays differ in size (sequence ", sequence, ")");
  auto it = index_.find(sequence);
  if (it == index_.end()) {
    it = index_.emplace(sequence, seqs_.size()).first;
    seqs_.push_back(Seq{sequence, std::vector<int64_t>(size_t(nc_ + 1) * (nc_ + 1), 0), {}, {}, {}, 0});
  }
  Seq& s = seqs_[it->second];
  s.frames++;
  auto cls = [&](uint8_t v) { return v >= nc_ ? nc_ : int(v); };
  std::unordered_map<uint64_t, int64_t> gt, pred;
  std::map<std::pair<uint64_t, uint64_t>, int64_t> inter;
  for (size_t i = 0; i < n; ++i) {
    int g = cls(f.gt_sem[i]), p = cls(f.pred_sem[i]);
    s.confusion[size_t(g) * (nc_ + 1) + p]++;
    bool g_thing = g < nc_ && is_thing_[size_t(g)];
    bool crowd = g_thing && f.gt_track[i] == 0;
    bool lm = g_thing && !crowd;
    bool pm = p < nc_ && is_thing_[size_t(p)] && !crowd;
    // Track ids as deeplab2 forms them: semantic << 16 | instance; here category << 32 | segment id.
    uint64_t gk = (uint64_t(g) << 32) | (f.gt_track[i] & 0xFFFFFFFFull);
    uint64_t pk = (uint64_t(p) << 32) | (f.pred_track[i] & 0xFFFFFFFFull);
    if (lm) gt[gk]++;
    if (pm) pred[pk]++;
    if (lm && pm) inter[{gk, pk}]++;
  }
  for (const auto& [k, v] : gt) s.gt[k] += v;
  for (const auto& [k, v] : pred) s.pred[k] += v;
  for (const auto& [k, v] : inter) s.inter[k] += v;
}

static double miou(const std::vector<int64_t>& conf, int nc, std::vector<double>* per_class) {
  int C = nc + 1;
  double sum = 0;
  int count = 0;
  if (per_class) per_class->assign(size_t(nc), -1.0);
  for (int c = 0; c < C; ++c) {
    // Rows of the ignore class are removed (GT void never counts); its column stays, as in deeplab2.
    int64_t tp = c < nc ? conf[size_t(c) * C + c] : 0, col = 0, row = 0;
    for (int r = 0; r < nc; ++r) col += conf[size_t(r) * C + c];
    if (c < nc)
      for (int k = 0; k < C; ++k) row += conf[size_t(c) * C + k];
    int64_t uni = tp + (col - tp) + (row - tp);
    if (uni == 0) continue;
    double iou = double(tp) / double(uni);
    if (per_class && c < nc) (*per_class)[size_t(c)] = iou;
    sum += iou;
    count++;
  }
  return count ? sum / count : 0.0;
}

StqResult StqAccumulator::result() const {
  StqResult r;
  double aq_sum = 0;
  int64_t tubes = 0;
  std::vector<int64_t> total(size_t(nc_ + 1) * (nc_ + 1), 0);
  for (const Seq& s : seqs_) {
    double outer = 0;
    for (const auto& [gid, gsize] : s.gt) {
      double inner = 0;
      auto lo = s.inter.lower_bound({gid, 0});
      for (auto it = lo; it != s.inter.end() && it->first.first == gid; ++it) {
        double tpa = double(it->second), psize = double(s.pred.at(it->first.second));
        double fpa = psize - tpa, fna = double(gsize) - tpa;
        inner += tpa * (tpa / (tpa + fpa + fna));
      }
      outer += 1.0 / double(gsize) * inner;
    }
    SeqStq q;
    q.id = s.id;
    q.frames = s.frames;
    q.tubes = int64_t(s.gt.size());
    q.aq = outer / std::max(double(q.tubes), 1e-15);
    q.iou = miou(s.confusion, nc_, nullptr);
    q.stq = std::sqrt(q.aq * q.iou);
    aq_sum += outer;
    tubes += q.tubes;
    for (size_t k = 0; k < total.size(); ++k) total[k] += s.confusion[k];
    r.sequences.push_back(q);
  }
  r.aq = aq_sum / std::max(double(tubes), 1e-15);
  r.sq = miou(total, nc_, &r.class_iou);
  r.stq = std::sqrt(r.aq * r.sq);
  return r;
}

StqFrame stq_frame(const std::vector<uint32_t>& gt_ids, const std::vector<uint32_t>& pred_ids,
                   const std::vector<SegInfo>& gt_segs, const std::vector<SegInfo>& pred_segs,
                   const std::vector<data::Category>& cats) {
  std::unordered_map<int, bool> thing;
  for (const auto& c : cats) thing[c.id] = c.isthing;
  struct L {
    uint8_t sem;
    uint64_t track;
  };
  auto table = [&](const std::vector<SegInfo>& segs) {
    std::unordered_map<uint32_t, L> t;
    for (const auto& s : segs) {
      if (t.count(s.id)) continue;
      bool th = thing.count(s.category_id) && thing[s.category_id];
      uint8_t sem = s.category_id >= 0 && s.category_id < 255 ? uint8_t(s.category_id) : 255;
      t[s.id] = L{sem, th && s.iscrowd != 1 ? uint64_t(s.id) : 0};
    }
    return t;
  };
  auto gt = table(gt_segs);
  std::vector<SegInfo> pred_nocrowd = pred_segs;
  for (auto& s : pred_nocrowd) s.iscrowd = 0;  // predictions have no crowd
  auto pred = table(pred_nocrowd);
  StqFrame f;
  size_t n = gt_ids.size();
  f.gt_sem.assign(n, 255);
  f.pred_sem.assign(n, 255);
  f.gt_track.assign(n, 0);
  f.pred_track.assign(n, 0);
  for (size_t i = 0; i < n; ++i) {
    auto g = gt.find(gt_ids[i]);  // ids not in the segment list (e.g. 0) stay void
    if (g != gt.end()) f.gt_sem[i] = g->second.sem, f.gt_track[i] = g->second.track;
    auto p = pred.find(pred_ids[i]);
    if (p != pred.end()) f.pred_sem[i] = p->second.sem, f.pred_track[i] = p->second.track;
  }
  return f;
}

StqResult evaluate_stq(const PanSet& set, int threads) {
  int nc = 0;
  std::vector<int> things;
  for (const auto& c : set.categories) {
    nc = std::max(nc, c.id + 1);
    if (c.isthing) things.push_back(c.id);
  }
  StqAccumulator acc(nc, things);
  IdAccumulator ids;
  std::vector<FrameStats> fstats(set.frames.size());
  for (size_t v = 0; v < set.videos.size(); ++v) {
    const size_t b = set.videos[v].first, e = set.videos[v].second;  // named (lambdas cannot capture bindings in C++17)
    std::string seq = set.frames[b].image_id.substr(0, set.frames[b].image_id.find('_'));
    seq = std::to_string(v) + ":" + seq;
    std::vector<StqFrame> frames(e - b);
    parallel_for_each(int64_t(e - b), threads, [&](int64_t k) {
      size_t i = b + size_t(k);
      const PanFrame& f = set.frames[i];
      int w = 0, h = 0;
      std::vector<uint32_t> gt, pred;
      load_frame_ids(f, set.max_pixels, &gt, &pred, &w, &h);
      fstats[i] = frame_stats(gt, pred, f.gt_segs, f.pred_segs, set.categories,
                              "image " + f.image_id + " (" + f.pred_png + ")");
      frames[size_t(k)] = stq_frame(gt, pred, f.gt_segs, f.pred_segs, set.categories);
    });
    for (const auto& f : frames) acc.add(seq, f), ids.add(seq, f);
  }
  StqResult r = acc.result();
  r.ids = ids.result();
  CatStats pq;
  for (const auto& [b, e] : set.videos)
    for (const auto& [cat, s] : vpq_video(fstats.data() + b, e - b, 1)) {
      pq[cat].iou += s.iou;
      pq[cat].tp += s.tp;
      pq[cat].fp += s.fp;
      pq[cat].fn += s.fn;
    }
  r.pq = pq_average(pq, set.categories, 0).pq;
  r.pq_thing = pq_average(pq, set.categories, 1).pq;
  r.pq_stuff = pq_average(pq, set.categories, 2).pq;
  return r;
}

void write_stq_report(const StqResult& r, const std::string& out_dir) {
  data::make_dirs(out_dir);
  nlohmann::json seqs = nlohmann::json::array(), cls = nlohmann::json::object();
  for (const auto& s : r.sequences)
    seqs.push_back({{"id", s.id}, {"stq", s.stq}, {"aq", s.aq}, {"iou", s.iou}, {"tubes", s.tubes}, {"frames", s.frames}});
  for (size_t c = 0; c < r.class_iou.size(); ++c)
    if (r.class_iou[c] >= 0) cls[std::to_string(c)] = r.class_iou[c];
  auto id_json = [](const IdStats& s) {
    return nlohmann::json{{"idf1", s.idf1()},   {"id_switches", s.switches}, {"matched", s.matched},
                          {"gt_instances", s.gt}, {"pred_instances", s.pred}, {"idtp", s.idtp}};
  };
  nlohmann::json ids = id_json(r.ids.all), ids_cls = nlohmann::json::object();
  for (const auto& [c, s] : r.ids.per_class) ids_cls[std::to_string(c)] = id_json(s);
  ids["per_class"] = ids_cls;
  nlohmann::json j = {{"stq", r.stq},           {"aq", r.aq},       {"sq_miou", r.sq},
                      {"pq_per_frame", r.pq},   {"pq_thing", r.pq_thing}, {"pq_stuff", r.pq_stuff},
                      {"class_iou", cls},       {"sequences", seqs}, {"identity", ids}};
  data::write_json(data::join_path(out_dir, "stq.json"), j, 2);
}

}  // namespace vps::eval
