#include "eval/id_metrics.h"

#include <algorithm>
#include <limits>
#include <unordered_map>

#include "eval/stq.h"

namespace vps::eval {

void IdStats::add(const IdStats& o) {
  gt += o.gt, pred += o.pred, matched += o.matched, idtp += o.idtp, switches += o.switches;
}

namespace {
struct Inst {
  int cls = 0;
  int64_t area = 0;
};
// Each track key's class (the class of its first pixel) and area in one frame.
std::unordered_map<uint64_t, Inst> instances(const std::vector<uint64_t>& track, const std::vector<uint8_t>& sem) {
  std::unordered_map<uint64_t, Inst> m;
  for (size_t i = 0; i < track.size(); ++i) {
    if (track[i] == 0) continue;
    auto [it, fresh] = m.try_emplace(track[i], Inst{sem[i], 0});
    it->second.area++;
  }
  return m;
}
}  // namespace

void IdAccumulator::add(const std::string& sequence, const StqFrame& f) {
  Seq& s = seqs_[sequence];
  auto gt = instances(f.gt_track, f.gt_sem), pred = instances(f.pred_track, f.pred_sem);
  std::map<std::pair<uint64_t, uint64_t>, int64_t> inter;
  for (size_t i = 0; i < f.gt_track.size(); ++i)
    if (f.gt_track[i] && f.pred_track[i]) inter[{f.gt_track[i], f.pred_track[i]}]++;
  for (auto& [g, gi] : gt) s.stats[gi.cls].gt++;
  for (auto& [p, pi] : pred) s.stats[pi.cls].pred++;
  for (auto& [key, n] : inter) {
    const Inst &gi = gt[key.first], &pi = pred[key.second];
    if (gi.cls != pi.cls || 2 * n <= gi.area + pi.area - n) continue;  // IoU > 0.5, same class
    IdStats& st = s.stats[gi.cls];
    st.matched++;
    s.together[gi.cls][key]++;
    auto last = s.last_match.find(key.first);
    if (last != s.last_match.end() && last->second != key.second) st.switches++;
    s.last_match[key.first] = key.second;
  }
}

IdResult IdAccumulator::result() const {
  IdResult r;
  for (const auto& [name, s] : seqs_) {
    for (const auto& [cls, st] : s.stats) {
      IdStats add = st;
      auto t = s.together.find(cls);
      if (t != s.together.end()) {
        std::map<uint64_t, size_t> rows, cols;
        for (auto& [key, n] : t->second) rows.try_emplace(key.first, rows.size()), cols.try_emplace(key.second, cols.size());
        std::vector<std::vector<int64_t>> w(rows.size(), std::vector<int64_t>(cols.size(), 0));
        for (auto& [key, n] : t->second) w[rows[key.first]][cols[key.second]] = n;
        add.idtp = max_weight_matching(w);
      }
      r.per_class[cls].add(add);
      r.all.add(add);
    }
  }
  return r;
}

// Hungarian algorithm (shortest augmenting paths with potentials) on costs -w, rows <= cols after an
// optional transpose; O(n^2 m).
int64_t max_weight_matching(const std::vector<std::vector<int64_t>>& w_in) {
  if (w_in.empty() || w_in[0].empty()) return 0;
  bool tr = w_in.size() > w_in[0].size();
  size_t n = tr ? w_in[0].size() : w_in.size(), m = tr ? w_in.size() : w_in[0].size();
  auto cost = [&](size_t i, size_t j) { return -(tr ? w_in[j - 1][i - 1] : w_in[i - 1][j - 1]); };
  const int64_t inf = std::numeric_limits<int64_t>::max() / 4;
  std::vector<int64_t> u(n + 1, 0), v(m + 1, 0), minv(m + 1);
  std::vector<size_t> p(m + 1, 0), way(m + 1, 0);
  std::vector<char> used(m + 1);
  for (size_t i = 1; i <= n; ++i) {
    p[0] = i;
    size_t j0 = 0;
    std::fill(minv.begin(), minv.end(), inf);
    std::fill(used.begin(), used.end(), 0);
    do {
      used[j0] = 1;
      size_t i0 = p[j0], j1 = 0;
      int64_t delta = inf;
      for (size_t j = 1; j <= m; ++j) {
        if (used[j]) continue;
        int64_t cur = cost(i0, j) - u[i0] - v[j];
        if (cur < minv[j]) minv[j] = cur, way[j] = j0;
        if (minv[j] < delta) delta = minv[j], j1 = j;
      }
      for (size_t j = 0; j <= m; ++j) {
        if (used[j]) u[p[j]] += delta, v[j] -= delta;
        else minv[j] -= delta;
      }
      j0 = j1;
    } while (p[j0] != 0);
    do {
      size_t j1 = way[j0];
      p[j0] = p[j1];
      j0 = j1;
    } while (j0);
  }
  int64_t total = 0;
  for (size_t j = 1; j <= m; ++j)
    if (p[j]) total -= cost(p[j], j);
  return total;
}

}  // namespace vps::eval
