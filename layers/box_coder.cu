// delta2bbox, bbox2delta, box_iou: one HD body each (layers/kernels/box_math.h) for CPU and CUDA.
#include "layers/box_coder.h"

#include "tensor/hd.h"

namespace vps {

void check_boxes(const char* op, const char* what, const Tensor& t, bool allow5) {
  VPS_CHECK(t.defined(), op, ": ", what, " is undefined");
  bool cols_ok = t.dim() == 2 && (t.size(1) == 4 || (allow5 && t.size(1) == 5));
  VPS_CHECK(cols_ok, op, ": ", what, " must be (K,4)", allow5 ? " or (K,5)" : "", ", got ", shape_str(t.shape()));
  VPS_CHECK(t.dtype() == DType::f32 || t.dtype() == DType::f64, op, ": ", what, " must be float32 or float64, got ",
            dtype_name(t.dtype()), " ", shape_str(t.shape()));
}

Tensor delta2bbox(const Tensor& rois_in, const Tensor& deltas_in, const BoxCoderParams& p) {
  check_boxes("delta2bbox", "rois", rois_in);
  VPS_CHECK(deltas_in.dim() == 2 && deltas_in.size(1) % 4 == 0 && deltas_in.size(1) > 0 &&
                deltas_in.size(0) == rois_in.size(0),
            "delta2bbox: deltas must be (K,4*C) with K = rois rows; got rois ", shape_str(rois_in.shape()),
            " deltas ", shape_str(deltas_in.shape()));
  VPS_CHECK(deltas_in.dtype() == rois_in.dtype() && deltas_in.device() == rois_in.device(),
            "delta2bbox: rois and deltas must share dtype and device, got ", rois_in.str(), " and ", deltas_in.str());
  Tensor rois = rois_in.contiguous(), deltas = deltas_in.contiguous();
  Tensor out = Tensor::empty(deltas.shape(), deltas.dtype(), deltas.device());
  int64_t c = deltas.size(1) / 4;
  VPS_DISPATCH_FLOAT(rois.dtype(), "delta2bbox", [&] {
    using T = scalar_t;
    const T* r = rois.data<T>();
    const T* d = deltas.data<T>();
    T* o = out.data<T>();
    BoxCoderParams q = p;
    parallel_for(out.device(), deltas.size(0) * c,
                 VPS_KERNEL((int64_t i) { box::decode(r + (i / c) * 4, d + i * 4, q, o + i * 4); }));
  });
  return out;
}

Tensor bbox2delta(const Tensor& prop_in, const Tensor& gt_in, const BoxCoderParams& p) {
  check_boxes("bbox2delta", "proposals", prop_in);
  check_boxes("bbox2delta", "gt", gt_in);
  VPS_CHECK(prop_in.size(0) == gt_in.size(0) && prop_in.dtype() == gt_in.dtype() &&
                prop_in.device() == gt_in.device(),
            "bbox2delta: proposals and gt must match in rows, dtype and device, got ", prop_in.str(), " and ",
            gt_in.str());
  Tensor pr = prop_in.contiguous(), gt = gt_in.contiguous();
  Tensor out = Tensor::empty(pr.shape(), pr.dtype(), pr.device());
  VPS_DISPATCH_FLOAT(pr.dtype(), "bbox2delta", [&] {
    using T = scalar_t;
    const T* a = pr.data<T>();
    const T* g = gt.data<T>();
    T* o = out.data<T>();
    BoxCoderParams q = p;
    parallel_for(out.device(), pr.size(0), VPS_KERNEL((int64_t i) { box::encode(a + i * 4, g + i * 4, q, o + i * 4); }));
  });
  return out;
}

Tensor box_iou(const Tensor& a_in, const Tensor& b_in, bool legacy_plus_one) {
  check_boxes("box_iou", "a", a_in);
  check_boxes("box_iou", "b", b_in);
  VPS_CHECK(a_in.dtype() == b_in.dtype() && a_in.device() == b_in.device(),
            "box_iou: a and b must share dtype and device, got ", a_in.str(), " and ", b_in.str());
  Tensor a = a_in.contiguous(), b = b_in.contiguous();
  int64_t n = a.size(0), m = b.size(0);
  Tensor out = Tensor::empty({n, m}, a.dtype(), a.device());
  VPS_DISPATCH_FLOAT(a.dtype(), "box_iou", [&] {
    using T = scalar_t;
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    T* o = out.data<T>();
    T off = legacy_plus_one ? T(1) : T(0);
    parallel_for(out.device(), n * m,
                 VPS_KERNEL((int64_t i) { o[i] = box::iou(pa + (i / m) * 4, pb + (i % m) * 4, off); }));
  });
  return out;
}

}  // namespace vps
