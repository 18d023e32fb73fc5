// cuDNN passes of conv2d (host API only; compiled when VPS_CUDNN=1). Algorithms come from cuDNN's
// heuristics (cudnnGet*Algorithm_v7), filtered to those whose workspace fits kWorkspaceLimit and, for
// float32, that do not use TF32 tensor-op math (so results match the im2col+cuBLAS reference to
// ~1e-5); the choice is cached per shape key. One cuDNN handle per device, on the default stream
// like cuBLAS. The algorithm cache and handles are the only process-wide state (mutex-guarded).
#if VPS_CUDNN
#include <cudnn.h>

#include <map>
#include <mutex>
#include <tuple>

#include "layers/conv2d.h"

#define VPS_CUDNN_CHECK(call)                                                                           \
  do {                                                                                                  \
    cudnnStatus_t s_ = (call);                                                                          \
    VPS_CHECK(s_ == CUDNN_STATUS_SUCCESS, "cuDNN call ", #call, " failed: ", cudnnGetErrorString(s_), \
              " (status ", int(s_), ")");                                                               \
  } while (0)

namespace vps::conv_detail {
namespace {

constexpr size_t kWorkspaceLimit = size_t(256) << 20;  // 256 MiB
enum class Pass { forward, backward_data, backward_filter };

cudnnHandle_t handle_for(int device) {
  static std::mutex mu;
  static std::map<int, cudnnHandle_t> handles;
  std::lock_guard<std::mutex> lock(mu);
  auto it = handles.find(device);
  if (it != handles.end()) return it->second;
  cudnnHandle_t h;
  VPS_CUDNN_CHECK(cudnnCreate(&h));
  handles[device] = h;
  return h;
}

// Descriptors of one problem: x (N, C, H, W), w (O, C/groups, kh, kw), y (N, O, Ho, Wo).
struct Descriptors {
  cudnnTensorDescriptor_t x = nullptr, y = nullptr;
  cudnnFilterDescriptor_t w = nullptr;
  cudnnConvolutionDescriptor_t conv = nullptr;
  cudnnDataType_t dt;
  Descriptors(const ConvProblem& pb, DType dtype) {
    const ConvGeom& g = pb.g;
    dt = dtype == DType::f64 ? CUDNN_DATA_DOUBLE : CUDNN_DATA_FLOAT;
    VPS_CUDNN_CHECK(cudnnCreateTensorDescriptor(&x));
    VPS_CUDNN_CHECK(cudnnCreateTensorDescriptor(&y));
    VPS_CUDNN_CHECK(cudnnCreateFilterDescriptor(&w));
    VPS_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&conv));
    VPS_CUDNN_CHECK(cudnnSetTensor4dDescriptor(x, CUDNN_TENSOR_NCHW, dt, int(pb.N), int(g.C), int(g.H), int(g.W)));
    VPS_CUDNN_CHECK(cudnnSetTensor4dDescriptor(y, CUDNN_TENSOR_NCHW, dt, int(pb.N), int(pb.O), int(g.Ho), int(g.Wo)));
    VPS_CUDNN_CHECK(cudnnSetFilter4dDescriptor(w, dt, CUDNN_TENSOR_NCHW, int(pb.O), int(g.C / pb.groups), int(g.kh),
                                               int(g.kw)));
    VPS_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(conv, int(g.ph), int(g.pw), int(g.sh), int(g.sw), int(g.dh),
                                                    int(g.dw), CUDNN_CROSS_CORRELATION, dt));
    VPS_CUDNN_CHECK(cudnnSetConvolutionGroupCount(conv, int(pb.groups)));
  }
  ~Descriptors() {
    cudnnDestroyTensorDescriptor(x);
    cudnnDestroyTensorDescriptor(y);
    cudnnDestroyFilterDescriptor(w);
    cudnnDestroyConvolutionDescriptor(conv);
  }
  Descriptors(const Descriptors&) = delete;
  Descriptors& operator=(const Descriptors&) = delete;
};

struct Choice {
  int algo = 0;
  cudnnMathType_t math = CUDNN_DEFAULT_MATH;
  size_t workspace = 0;
};

using Key = std::tuple<int, int, int, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t,
                       int64_t, int64_t, int64_t, int64_t, int64_t, int64_t>;

Key make_key(Pass pass, const ConvProblem& pb, DType dt, int device) {
  const ConvGeom& g = pb.g;
  return Key{int(pass), int(dt), device, pb.N, g.C, g.H, g.W, pb.O, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.dh,
             g.dw, pb.groups};
}

// First heuristic result that succeeded, fits the workspace limit and avoids TF32 for float32.
template <class Perf>
Choice pick(const Perf* perf, int n, bool is_f32, const char* what) {
  for (int i = 0; i < n; ++i) {
    if (perf[i].status != CUDNN_STATUS_SUCCESS || perf[i].memory > kWorkspaceLimit) continue;
    if (is_f32 && perf[i].mathType == CUDNN_TENSOR_OP_MATH) continue;
    return Choice{int(perf[i].algo), perf[i].mathType, perf[i].memory};
  }
  VPS_FAIL("conv2d (cuDNN ", what, "): no algorithm fits the workspace limit of ", kWorkspaceLimit >> 20, " MiB");
}

Choice choose(Pass pass, const ConvProblem& pb, DType dtype, int device, cudnnHandle_t h, const Descriptors& d) {
  static std::mutex mu;
  static std::map<Key, Choice> cache;
  Key key = make_key(pass, pb, dtype, device);
  {
    std::lock_guard<std::mutex> lock(mu);
    auto it = cache.find(key);
    if (it != cache.end()) return it->second;
  }
  bool f32 = dtype == DType::f32;
  Choice c;
  int max_n = 0, got = 0;
  if (pass == Pass::forward) {
    VPS_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithmMaxCount(h, &max_n));
    std::vector<cudnnConvolutionFwdAlgoPerf_t> perf(static_cast<size_t>(max_n));
    VPS_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(h, d.x, d.w, d.conv, d.y, max_n, &got, perf.data()));
    c = pick(perf.data(), got, f32, "forward");
  } else if (pass == Pass::backward_data) {
    VPS_CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithmMaxCount(h, &max_n));
    std::vector<cudnnConvolutionBwdDataAlgoPerf_t> perf(static_cast<size_t>(max_n));
    VPS_CUDNN_CHECK(
        cudnnGetConvolutionBackwardDataAlgorithm_v7(h, d.w, d.y, d.conv, d.x, max_n, &got, perf.data()));
    c = pick(perf.data(), got, f32, "backward data");
  } else {
    VPS_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithmMaxCount(h, &max_n));
    std::vector<cudnnConvolutionBwdFilterAlgoPerf_t> perf(static_cast<size_t>(max_n));
    VPS_CUDNN_CHECK(
        cudnnGetConvolutionBackwardFilterAlgorithm_v7(h, d.x, d.y, d.conv, d.w, max_n, &got, perf.data()));
    c = pick(perf.data(), got, f32, "backward filter");
  }
  std::lock_guard<std::mutex> lock(mu);
  cache[key] = c;
  return c;
}

// Runs one pass: fn(handle, descriptors, choice, workspace pointer, alpha, beta).
template <class F>
void run_pass(Pass pass, const ConvProblem& pb, DType dtype, Device dev, F fn) {
  cudnnHandle_t h = handle_for(dev.index);
  Descriptors d(pb, dtype);
  Choice c = choose(pass, pb, dtype, dev.index, h, d);
  VPS_CUDNN_CHECK(cudnnSetConvolutionMathType(d.conv, c.math));
  Tensor ws;
  if (c.workspace > 0) ws = Tensor::empty({int64_t(c.workspace)}, DType::u8, dev);
  void* wsp = c.workspace > 0 ? ws.raw_data() : nullptr;
  double a64 = 1, b64 = 0;
  float a32 = 1, b32 = 0;
  const void* alpha = dtype == DType::f64 ? static_cast<const void*>(&a64) : &a32;
  const void* beta = dtype == DType::f64 ? static_cast<const void*>(&b64) : &b32;
  fn(h, d, c, wsp, alpha, beta);
}

}  // namespace

void cudnn_forward(const ConvProblem& pb, const Tensor& x, const Tensor& w, Tensor& y) {
  run_pass(Pass::forward, pb, x.dtype(), x.device(),
           [&](cudnnHandle_t h, const Descriptors& d, const Choice& c, void* ws, const void* a, const void* b) {
             VPS_CUDNN_CHECK(cudnnConvolutionForward(h, a, d.x, x.raw_data(), d.w, w.raw_data(), d.conv,
                                                     cudnnConvolutionFwdAlgo_t(c.algo), ws, c.workspace, b, d.y,
                                                     y.raw_data()));
           });
}

void cudnn_backward_input(const ConvProblem& pb, const Tensor& gy, const Tensor& w, Tensor& gx) {
  run_pass(Pass::backward_data, pb, gy.dtype(), gy.device(),
           [&](cudnnHandle_t h, const Descriptors& d, const Choice& c, void* ws, const void* a, const void* b) {
             VPS_CUDNN_CHECK(cudnnConvolutionBackwardData(h, a, d.w, w.raw_data(), d.y, gy.raw_data(), d.conv,
                                                          cudnnConvolutionBwdDataAlgo_t(c.algo), ws, c.workspace, b,
                                                          d.x, gx.raw_data()));
           });
}

void cudnn_backward_weight(const ConvProblem& pb, const Tensor& x, const Tensor& gy, Tensor& gw) {
  run_pass(Pass::backward_filter, pb, x.dtype(), x.device(),
           [&](cudnnHandle_t h, const Descriptors& d, const Choice& c, void* ws, const void* a, const void* b) {
             VPS_CUDNN_CHECK(cudnnConvolutionBackwardFilter(h, a, d.x, x.raw_data(), d.y, gy.raw_data(), d.conv,
                                                            cudnnConvolutionBwdFilterAlgo_t(c.algo), ws,
                                                            c.workspace, b, d.w, gw.raw_data()));
           });
}

void cudnn_bias_grad(const Tensor& gy, Tensor& gb) {
  cudnnHandle_t h = handle_for(gy.device().index);
  cudnnDataType_t dt = gy.dtype() == DType::f64 ? CUDNN_DATA_DOUBLE : CUDNN_DATA_FLOAT;
  int64_t N = gy.size(0), O = gy.size(1), L = gy.numel() / (N * O);
  cudnnTensorDescriptor_t dy = nullptr, db = nullptr;
  VPS_CUDNN_CHECK(cudnnCreateTensorDescriptor(&dy));
  VPS_CUDNN_CHECK(cudnnCreateTensorDescriptor(&db));
  double a64 = 1, b64 = 0;
  float a32 = 1, b32 = 0;
  bool f64 = dt == CUDNN_DATA_DOUBLE;
  cudnnStatus_t s = cudnnSetTensor4dDescriptor(dy, CUDNN_TENSOR_NCHW, dt, int(N), int(O), int(L), 1);
  if (s == CUDNN_STATUS_SUCCESS) s = cudnnSetTensor4dDescriptor(db, CUDNN_TENSOR_NCHW, dt, 1, int(O), 1, 1);
  if (s == CUDNN_STATUS_SUCCESS)
    s = cudnnConvolutionBackwardBias(h, f64 ? static_cast<const void*>(&a64) : &a32, dy, gy.raw_data(),
                                     f64 ? static_cast<const void*>(&b64) : &b32, db, gb.raw_data());
  cudnnDestroyTensorDescriptor(dy);
  cudnnDestroyTensorDescriptor(db);
  VPS_CUDNN_CHECK(s);
}

}  // namespace vps::conv_detail
#endif  // VPS_CUDNN
