// Shared by the backbone tests: the narrow fixture models of tests/fixtures/backbone/make_backbone.py and the
// scalar loss used for its gradients.
#pragma once
#include <cmath>
#include <string>
#include <vector>

#include "models/backbone/resnet_fpn.h"
#include "ops/ops.h"

namespace vps::test {

struct BackboneFixture {
  std::string name;  // file prefix under tests/fixtures/backbone/
  bool bottleneck;
  std::vector<int> blocks;
  int64_t width, fpn_out;
};

inline const std::vector<BackboneFixture>& backbone_fixtures() {
  static const std::vector<BackboneFixture> f = {{"bott", true, {2, 1, 1, 1}, 4, 16},
                                                 {"basic", false, {2, 2, 2, 2}, 4, 8}};
  return f;
}

inline std::shared_ptr<models::ResNetFPN> make_fixture_model(const BackboneFixture& f, DType dtype) {
  models::ResNetOptions r;
  r.depth = f.bottleneck ? 50 : 18;
  r.base_width = f.width;
  r.stage_blocks = f.blocks;
  r.dtype = dtype;
  models::FPNOptions n;
  n.out_channels = f.fpn_out;
  n.dtype = dtype;
  return std::make_shared<models::ResNetFPN>(r, n);
}

// loss = sum_k sum(out_k * cos(0.37 * flat_index + k)), as the fixture script.
inline Tensor fixture_loss(const nn::NamedTensors& outs) {
  Tensor loss;
  for (size_t k = 0; k < outs.size(); ++k) {
    const Tensor& o = outs[k].second;
    std::vector<double> w(size_t(o.numel()));
    for (size_t i = 0; i < w.size(); ++i) w[i] = std::cos(0.37 * double(i) + double(k));
    Tensor term = sum(mul(o, Tensor::from_vector(w, o.shape()).to(o.dtype())));
    loss = loss.defined() ? add(loss, term) : term;
  }
  return loss;
}

}  // namespace vps::test
