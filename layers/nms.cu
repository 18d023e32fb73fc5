// NMS: sort on the host, then either a greedy CPU loop or the bitmask algorithm (one HD body per
// (row, 64-column block) computing a 64-bit suppression mask, reduced sequentially on the host).
#include "layers/nms.h"

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <vector>

#include "layers/box_coder.h"
#include "layers/kernels/box_math.h"
#include "tensor/hd.h"

namespace vps {
namespace {

constexpr int64_t kBlock = 64;

void check_nms_inputs(const char* op, const Tensor& boxes, const Tensor& scores, const Tensor& idxs) {
  check_boxes(op, "boxes", boxes);
  VPS_CHECK(scores.defined() && scores.dim() == 1 && scores.size(0) == boxes.size(0), op,
            ": scores must be (N,) with N = boxes rows; got boxes ", shape_str(boxes.shape()), " scores ",
            scores.defined() ? shape_str(scores.shape()) : "undefined");
  VPS_CHECK(scores.dtype() == boxes.dtype() && scores.device() == boxes.device(), op,
            ": boxes and scores must share dtype and device, got ", boxes.str(), " and ", scores.str());
  if (idxs.defined())
    VPS_CHECK(idxs.dim() == 1 && idxs.size(0) == boxes.size(0) && idxs.dtype() == DType::i64, op,
              ": idxs must be int64 (N,) with N = boxes rows; got ", idxs.str(), " for boxes ",
              shape_str(boxes.shape()));
}

// Order of boxes by descending score, ties by lower index (stable).
std::vector<int64_t> score_order(const Tensor& scores) {
  std::vector<double> s(size_t(scores.size(0)));
  Tensor sc = scores.cpu().to(DType::f64).contiguous();
  const double* p = sc.data<double>();
  for (size_t i = 0; i < s.size(); ++i) s[i] = p[i];
  std::vector<int64_t> order(s.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return s[a] > s[b]; });
  return order;
}

// Sorted boxes (n,4) and labels (n,) as contiguous host tensors.
template <class T>
void gather_sorted(const Tensor& boxes, const Tensor& idxs, const std::vector<int64_t>& order, Tensor& sb,
                   Tensor& sl) {
  int64_t n = int64_t(order.size());
  Tensor hb = boxes.cpu().contiguous();
  sb = Tensor::empty({n, 4}, boxes.dtype());
  sl = Tensor::zeros({n}, DType::i64);
  const T* b = hb.data<T>();
  T* o = sb.data<T>();
  for (int64_t i = 0; i < n; ++i)
    for (int k = 0; k < 4; ++k) o[i * 4 + k] = b[order[size_t(i)] * 4 + k];
  if (idxs.defined()) {
    Tensor hl = idxs.cpu().contiguous();
    const int64_t* l = hl.data<int64_t>();
    int64_t* ol = sl.data<int64_t>();
    for (int64_t i = 0; i < n; ++i) ol[i] = l[order[size_t(i)]];
  }
}

Tensor keep_tensor(const std::vector<int64_t>& keep, Device device) {
  return Tensor::from_vector(keep, {int64_t(keep.size())}).to(device);
}

// Greedy NMS on the host over sorted boxes: the reference the bitmask path must reproduce. Coordinates
// and areas are split into arrays and every later box is tested (a removed one only gets marked again),
// so the inner loop has no branches and vectorizes; the IoU is the same expression as box::iou.
template <class T>
std::vector<int64_t> greedy(const Tensor& sb, const Tensor& sl, const std::vector<int64_t>& order, T thr, T off) {
  int64_t n = sb.size(0);
  const T* b = sb.data<T>();
  const int64_t* l = sl.data<int64_t>();
  std::vector<T> c(size_t(5 * n));
  T *x1 = c.data(), *y1 = x1 + n, *x2 = y1 + n, *y2 = x2 + n, *ar = y2 + n;
  for (int64_t i = 0; i < n; ++i) {
    x1[i] = b[i * 4];
    y1[i] = b[i * 4 + 1];
    x2[i] = b[i * 4 + 2];
    y2[i] = b[i * 4 + 3];
    ar[i] = box::area(b + i * 4, off);
  }
  std::vector<uint8_t> removed(size_t(n), 0);
  uint8_t* rm = removed.data();
  std::vector<int64_t> keep;
  for (int64_t i = 0; i < n; ++i) {
    if (rm[i]) continue;
    keep.push_back(order[size_t(i)]);
    T ax1 = x1[i], ay1 = y1[i], ax2 = x2[i], ay2 = y2[i], aa = ar[i];
    int64_t li = l[i];
    for (int64_t j = i + 1; j < n; ++j)
      rm[j] |= uint8_t((l[j] == li) & box::iou_above(ax1, ay1, ax2, ay2, aa, x1[j], y1[j], x2[j], y2[j], ar[j], off, thr));
  }
  return keep;
}

template <class T>
std::vector<int64_t> bitmask(const Tensor& sb_host, const Tensor& sl_host, const std::vector<int64_t>& order, T thr,
                             T off, Device device) {
  int64_t n = sb_host.size(0), blocks = (n + kBlock - 1) / kBlock;
  Tensor sb = sb_host.to(device), sl = sl_host.to(device);
  Tensor mask = Tensor::empty({n, blocks}, DType::i64, device);
  const T* b = sb.data<T>();
  const int64_t* l = sl.data<int64_t>();
  uint64_t* m = reinterpret_cast<uint64_t*>(mask.data<int64_t>());
  // mask[i, cb] bit t: box cb*64+t (> i) overlaps box i above the threshold (same label).
  parallel_for(device, n * blocks, VPS_KERNEL((int64_t e) {
    int64_t i = e / blocks, cb = e % blocks;
    int64_t j0 = cb * kBlock, j1 = j0 + kBlock < n ? j0 + kBlock : n;
    uint64_t bits = 0;
    for (int64_t j = (j0 > i + 1 ? j0 : i + 1); j < j1; ++j)
      if (l[i] == l[j] && box::iou(b + i * 4, b + j * 4, off) > thr) bits |= uint64_t(1) << (j - j0);
    m[e] = bits;
  }));
  Tensor hm = mask.cpu();
  const uint64_t* hmask = reinterpret_cast<const uint64_t*>(hm.data<int64_t>());
  std::vector<uint64_t> removed(size_t(blocks), 0);
  std::vector<int64_t> keep;
  for (int64_t i = 0; i < n; ++i) {
    if (removed[size_t(i / kBlock)] >> (i % kBlock) & 1) continue;
    keep.push_back(order[size_t(i)]);
    const uint64_t* row = hmask + i * blocks;
    for (int64_t cb = i / kBlock; cb < blocks; ++cb) removed[size_t(cb)] |= row[cb];
  }
  return keep;
}

Tensor run_nms(const char* op, const Tensor& boxes, const Tensor& scores, const Tensor& idxs, double iou_thr,
               bool plus_one, bool force_bitmask) {
  check_nms_inputs(op, boxes, scores, idxs);
  std::vector<int64_t> order = score_order(scores);
  std::vector<int64_t> keep;
  VPS_DISPATCH_FLOAT(boxes.dtype(), op, [&] {
    using T = scalar_t;
    Tensor sb, sl;
    gather_sorted<T>(boxes, idxs, order, sb, sl);
    T off = plus_one ? T(1) : T(0);
    if (force_bitmask || boxes.device().is_cuda())
      keep = bitmask<T>(sb, sl, order, T(iou_thr), off, boxes.device());
    else
      keep = greedy<T>(sb, sl, order, T(iou_thr), off);
  });
  return keep_tensor(keep, boxes.device());
}

}  // namespace

Tensor nms(const Tensor& boxes, const Tensor& scores, double iou_thr, bool legacy_plus_one) {
  return run_nms("nms", boxes, scores, Tensor(), iou_thr, legacy_plus_one, false);
}

Tensor nms(const Tensor& dets, double iou_thr, bool legacy_plus_one) {
  check_boxes("nms", "dets", dets, true);
  VPS_CHECK(dets.size(1) == 5, "nms: dets must be (N,5) = boxes and score, got ", shape_str(dets.shape()));
  return run_nms("nms", dets.slice(1, 0, 4), dets.select(1, 4), Tensor(), iou_thr, legacy_plus_one, false);
}

Tensor batched_nms(const Tensor& boxes, const Tensor& scores, const Tensor& idxs, double iou_thr,
                   bool legacy_plus_one) {
  VPS_CHECK(idxs.defined(), "batched_nms: idxs is undefined");
  return run_nms("batched_nms", boxes, scores, idxs, iou_thr, legacy_plus_one, false);
}

Tensor nms_bitmask(const Tensor& boxes, const Tensor& scores, const Tensor& idxs, double iou_thr,
                   bool legacy_plus_one) {
  return run_nms("nms_bitmask", boxes, scores, idxs, iou_thr, legacy_plus_one, true);
}

}  // namespace vps
