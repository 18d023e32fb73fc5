// matmul, bmm, linear on OpenBLAS (CPU) / cuBLAS (CUDA) through tensor/blas.h. A (B, r, c) operand
// whose inner matrix is row-major or a transposed row-major view goes to BLAS as is (with the
// transpose flag and its row stride); any other layout is copied to contiguous first. Broadcast
// batch dims (stride 0) are passed as a zero batch stride. Backward is two more GEMMs:
// dA = dC B^T, dB = A^T dC (the transposes are views, so no copies). f32 and f64.
#include <algorithm>

#include "autograd/node.h"
#include "ops/elementwise_kernels.h"
#include "ops/ops.h"
#include "tensor/blas.h"
#include "tensor/copy.h"

namespace vps {

namespace {

struct Operand {
  Tensor t;  // the tensor whose data BLAS reads
  bool trans = false;
  int64_t ld = 1, batch_stride = 0;
};

Operand operand(const Tensor& x) {
  Operand o;
  o.t = x;
  int64_t r = x.size(1), c = x.size(2);
  if (x.stride(2) == 1 && x.stride(1) >= std::max<int64_t>(1, c)) {
    o.ld = x.stride(1);
  } else if (x.stride(1) == 1 && x.stride(2) >= std::max<int64_t>(1, r)) {
    o.trans = true;
    o.ld = x.stride(2);
  } else {
    o.t = x.contiguous();
    o.ld = std::max<int64_t>(1, c);
  }
  o.batch_stride = o.t.size(0) == 1 ? 0 : o.t.stride(0);
  return o;
}

// out (B, n, m), contiguous = a (B, n, k) x b (B, k, m) + beta * out.
void bmm_into(const Tensor& out, const Tensor& a, const Tensor& b, double beta) {
  int64_t B = a.size(0), n = a.size(1), k = a.size(2), m = b.size(2);
  if (out.numel() == 0) return;
  if (k == 0) {
    if (beta == 0) fill_tensor(out, 0);
    return;
  }
  Operand oa = operand(a), ob = operand(b);
  VPS_DISPATCH_FLOAT(a.dtype(), "matmul", [&] {
    using T = scalar_t;
    blas::gemm_batched<T>(a.device(), oa.trans, ob.trans, n, m, k, T(1), oa.t.data<T>(), oa.ld, oa.batch_stride,
                          ob.t.data<T>(), ob.ld, ob.batch_stride, T(beta), out.data<T>(), m, n * m, B);
  });
}

Tensor bmm_raw(const Tensor& a, const Tensor& b) {
  Tensor out = Tensor::empty({a.size(0), a.size(1), b.size(2)}, a.dtype(), a.device());
  bmm_into(out, a, b, 0.0);
  return out;
}

// 2-D x 2-D through the batched path (a leading batch of one).
Tensor mm_raw(const Tensor& a, const Tensor& b) { return bmm_raw(a.unsqueeze(0), b.unsqueeze(0)).squeeze(0); }

struct BmmBackward : autograd::Node {
  autograd::SavedTensor a, b;
  const char* name() const override { return "BmmBackward"; }
  std::vector<Tensor> backward(const std::vector<Tensor>& g) override {
    Tensor ga, gb;
    if (next[0].valid()) ga = bmm_raw(g[0], b.get(name()).transpose(1, 2));
    if (next[1].valid()) gb = bmm_raw(a.get(name()).transpose(1, 2), g[0]);
    return {ga, gb};
  }
  void release() override {
    a.reset();
    b.reset();
  }
};

// y (M, out) = x2 (M, in) W^T + b; saves x and W.
struct LinearBackward : autograd::Node {
  autograd::SavedTensor x, w;
  bool has_bias = false;
  const char* name() const override { return "LinearBackward"; }
  std::vector<Tensor> backward(const std::vector<Tensor>& g) override {
    Tensor W = w.get(name()), X = x.get(name());
    int64_t in = W.size(1), outf = W.size(0);
    Tensor g2 = g[0].reshape({-1, outf});
    Tensor gx, gw, gb;
    if (next[0].valid()) gx = mm_raw(g2, W).reshape(X.shape());
    if (next[1].valid()) gw = mm_raw(g2.transpose(0, 1), X.reshape({-1, in}));
    if (has_bias && next[2].valid()) gb = sum(g2, {0});
    std::vector<Tensor> r{gx, gw};
    if (has_bias) r.push_back(gb);
    return r;
  }
  void release() override {
    x.reset();
    w.reset();
  }
};

}  // namespace

Tensor bmm(const Tensor& a, const Tensor& b) {
  check_binary_float("bmm", a, b);
  VPS_CHECK(a.dim() == 3 && b.dim() == 3 && a.size(0) == b.size(0) && a.size(2) == b.size(1), "bmm: shapes ",
            shape_str(a.shape()), " and ", shape_str(b.shape()), " cannot be multiplied (expected (B,n,k) x (B,k,m))");
  Tensor out = bmm_raw(a, b);
  if (autograd::needs_grad({a, b})) {
    auto n = std::make_shared<BmmBackward>();
    n->a = a;
    n->b = b;
    autograd::record(n, {a, b}, {out});
  }
  return out;
}

Tensor matmul(const Tensor& a, const Tensor& b) {
  check_binary_float("matmul", a, b);
  VPS_CHECK(a.dim() >= 1 && b.dim() >= 1, "matmul: both arguments need at least one dimension, got shapes ",
            shape_str(a.shape()), " and ", shape_str(b.shape()));
  int64_t ka = a.size(-1), kb = b.dim() == 1 ? b.size(0) : b.size(-2);
  VPS_CHECK(ka == kb, "matmul: shapes ", shape_str(a.shape()), " and ", shape_str(b.shape()),
            " cannot be multiplied (", ka, " vs ", kb, ")");
  bool a1 = a.dim() == 1, b1 = b.dim() == 1;
  Tensor A = a1 ? unsqueeze(a, 0) : a;   // (1, k)
  Tensor Bm = b1 ? unsqueeze(b, 1) : b;  // (k, 1)
  int64_t n = A.size(-2), k = ka, m = Bm.size(-1);
  Shape lead_a(A.shape().begin(), A.shape().end() - 2), lead_b(Bm.shape().begin(), Bm.shape().end() - 2);
  Tensor out;
  if (Bm.dim() == 2) {  // fold every leading dim of A into the rows of one GEMM
    Shape os = lead_a;
    os.push_back(n);
    os.push_back(m);
    Tensor A3 = A.dim() == 2 ? unsqueeze(A, 0) : reshape(A, {1, shape_numel(lead_a) * n, k});
    out = reshape(bmm(A3, unsqueeze(Bm, 0)), os);
  } else {
    Shape bs = broadcast_shapes(lead_a, lead_b, "matmul");
    Shape sa = bs, sb = bs, so = bs;
    sa.insert(sa.end(), {n, k});
    sb.insert(sb.end(), {k, m});
    so.insert(so.end(), {n, m});
    Tensor Ae = expand(A, sa), Be = expand(Bm, sb);
    int64_t nb = shape_numel(bs);
    if (bs.size() != 1) {
      Ae = reshape(Ae, {nb, n, k});
      Be = reshape(Be, {nb, k, m});
    }
    out = reshape(bmm(Ae, Be), so);
  }
  if (a1) out = squeeze(out, -2);
  if (b1) out = squeeze(out, -1);
  return out;
}

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  check_binary_float("linear", x, weight);
  VPS_CHECK(weight.dim() == 2 && x.dim() >= 1 && x.size(-1) == weight.size(1), "linear: input shape ",
            shape_str(x.shape()), " and weight shape ", shape_str(weight.shape()),
            " do not match (expected x (..., in) and weight (out, in))");
  int64_t in = weight.size(1), outf = weight.size(0);
  if (bias.defined()) {
    check_binary_float("linear", x, bias);
    VPS_CHECK(bias.dim() == 1 && bias.size(0) == outf, "linear: bias shape ", shape_str(bias.shape()),
              " does not match weight shape ", shape_str(weight.shape()));
  }
  Shape out_shape = x.shape();
  out_shape.back() = outf;
  int64_t M = shape_numel(Shape(x.shape().begin(), x.shape().end() - 1));
  Tensor x2 = x.reshape({M, in});
  Tensor y = Tensor::empty({1, M, outf}, x.dtype(), x.device());
  if (bias.defined()) strided_copy(y, bias);
  bmm_into(y, x2.unsqueeze(0), weight.transpose(0, 1).unsqueeze(0), bias.defined() ? 1.0 : 0.0);
  Tensor out = y.view(out_shape);
  std::vector<Tensor> inputs{x, weight};
  if (bias.defined()) inputs.push_back(bias);
  if (autograd::needs_grad(inputs)) {
    auto n = std::make_shared<LinearBackward>();
    n->x = x;
    n->w = weight;
    n->has_bias = bias.defined();
    autograd::record(n, inputs, {out});
  }
  return out;
}

}  // namespace vps
