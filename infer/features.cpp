#include "infer/features.h"

#include "autograd/grad_mode.h"
#include "data/image_tensor.h"
#include "models/registry.h"
#include "models/backbone/resnet_fpn.h"
#include "models/weights_io.h"
#include "tensor/check.h"
#include "tensor/io/tensor_io.h"

namespace vps::infer {

using namespace vps::models;

nn::NamedTensors infer_features(const std::string& config, const std::string& weights, const std::string& input,
                                const std::string& out, const FeatureOptions& opt) {
  std::shared_ptr<nn::Module> m = build_module_from_file(config);
  // Any model with children `backbone` (ResNet) and `neck` (FPN): ResNetFPN, MaskRCNN, ...
  std::shared_ptr<ResNet> backbone = m->child_as<ResNet>("backbone");
  std::shared_ptr<FPN> neck = m->child_as<FPN>("neck");
  VPS_CHECK(backbone && neck, "infer-features: ", config, " builds a ", m->type_name(),
            ", which has no ResNet `backbone` and FPN `neck` children");
  LoadOptions lo;
  lo.strict = opt.strict;
  lo.fold_bn = opt.fold_bn;
  load(*m, weights, lo);
  m->eval();
  Tensor x = data::load_model_input(input, backbone->conv_dtype(), opt.size_divisor);
  autograd::NoGradGuard ng;
  std::vector<Tensor> c = backbone->forward(x);
  nn::NamedTensors maps = name_features(backbone->options().out_indices, c, neck->forward(c));
  save_safetensors(out, maps, {{"config", config}, {"weights", weights}, {"input", input},
                               {"input_shape", shape_str(x.shape())}});
  return maps;
}

}  // namespace vps::infer
