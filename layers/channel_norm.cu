// FlowNet2's ChannelNorm (spec A.3.3, norm_deg 2): out[b,0,p] = sqrt(sum_c x[b,c,p]^2), accumulated
// in the input's dtype; backward g * x / (out + 1e-9), the original's epsilon (so a zero vector gets a
// zero gradient, not NaN). Items are spans of pixels (a row on CPU, one pixel on CUDA).
#include <cmath>

#include "autograd/node.h"
#include "layers/flow_ops.h"
#include "layers/kernels/row_span.h"
#include "tensor/hd.h"

namespace vps {
namespace {

constexpr double kChannelNormBackwardEps = 1e-9;

// Item (b, span of pixels): the squares of every channel summed into the output span, then sqrt.
template <class T>
struct ChannelNormForwardBody {
  const T* x;
  T* out;
  int64_t B, C, P, span;  // P = H * W pixels per plane
  HD void operator()(int64_t i) const {
    RowSpan rs = row_span(i, P, span);
    const T* xb = x + rs.row * C * P;
    T* o = out + rs.row * P;
    for (int64_t p = rs.k0; p < rs.k1; ++p) o[p] = T(0);
    for (int64_t c = 0; c < C; ++c)
      for (int64_t p = rs.k0; p < rs.k1; ++p) o[p] += xb[c * P + p] * xb[c * P + p];
    for (int64_t p = rs.k0; p < rs.k1; ++p) o[p] = ::sqrt(o[p]);
  }
  int64_t count() const { return B * ((P + span - 1) / span); }
};

// Item (b, c, span of pixels): gx = g * x / (norm + eps).
template <class T>
struct ChannelNormBackwardBody {
  const T* x;
  const T* norm;
  const T* gout;
  T* gx;
  int64_t B, C, P, span;
  HD void operator()(int64_t i) const {
    RowSpan rs = row_span(i, P, span);
    int64_t b = rs.row / C;
    const T* n = norm + b * P;
    const T* g = gout + b * P;
    for (int64_t p = rs.k0; p < rs.k1; ++p)
      gx[rs.row * P + p] = g[p] * x[rs.row * P + p] / (n[p] + T(kChannelNormBackwardEps));
  }
  int64_t count() const { return B * C * ((P + span - 1) / span); }
};

int64_t pixel_span(Device d, int64_t W) { return d.is_cuda() || W < 1 ? 1 : W; }

struct ChannelNormBackward : autograd::Node {
  autograd::SavedTensor x, norm;
  const char* name() const override { return "ChannelNormBackward"; }
  std::vector<Tensor> backward(const std::vector<Tensor>& grads) override {
    Tensor g = grads[0].contiguous(), xs = x.get(name()), ns = norm.get(name());
    Tensor gx = Tensor::empty(xs.shape(), xs.dtype(), xs.device());
    VPS_DISPATCH_FLOAT(xs.dtype(), name(), [&] {
      using T = scalar_t;
      ChannelNormBackwardBody<T> body{xs.data<T>(), ns.data<T>(), g.data<T>(), gx.data<T>(), xs.size(0), xs.size(1),
                                      xs.size(2) * xs.size(3), pixel_span(xs.device(), xs.size(3))};
      parallel_for(xs.device(), body.count(), body, body.span);
    });
    return {gx};
  }
  void release() override {
    x.reset();
    norm.reset();
  }
};

}  // namespace

Tensor channel_norm(const Tensor& x_in) {
  VPS_CHECK(x_in.defined() && x_in.dim() == 4, "channel_norm: expected (B, C, H, W), got ",
            x_in.defined() ? shape_str(x_in.shape()) : "undefined");
  VPS_CHECK(x_in.dtype() == DType::f32 || x_in.dtype() == DType::f64,
            "channel_norm: expected float32 or float64, got ", dtype_name(x_in.dtype()), " for ",
            shape_str(x_in.shape()));
  Tensor x = x_in.contiguous();
  int64_t B = x.size(0), C = x.size(1), P = x.size(2) * x.size(3);
  Tensor out = Tensor::empty({B, 1, x.size(2), x.size(3)}, x.dtype(), x.device());
  VPS_DISPATCH_FLOAT(x.dtype(), "channel_norm", [&] {
    using T = scalar_t;
    ChannelNormForwardBody<T> body{x.data<T>(), out.data<T>(), B, C, P, pixel_span(x.device(), x.size(3))};
    parallel_for(x.device(), body.count(), body, body.span * C);
  });
  if (autograd::needs_grad({x_in})) {
    auto node = std::make_shared<ChannelNormBackward>();
    node->x = x;
    node->norm = out;
    autograd::record(node, {x_in}, {out});
  }
  return out;
}

}  // namespace vps
