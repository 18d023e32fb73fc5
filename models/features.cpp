#include "models/features.h"

#include "autograd/grad_mode.h"
#include "models/registry.h"
#include "models/resnet_fpn.h"
#include "models/weights_io.h"
#include "tensor/check.h"
#include "tensor/tensor_io.h"

namespace vps::models {

nn::NamedTensors infer_features(const std::string& config, const std::string& weights, const std::string& input,
                                const std::string& out, const FeatureOptions& opt) {
  std::shared_ptr<nn::Module> m = build_model_from_file(config);
  auto* net = dynamic_cast<ResNetFPN*>(m.get());
  VPS_CHECK(net, "infer-features: ", config, " builds a ", m->type_name(), ", expected a ResNetFPN");
  LoadOptions lo;
  lo.strict = opt.strict;
  lo.fold_bn = opt.fold_bn;
  load(*m, weights, lo);
  m->eval();
  DType dtype = net->backbone->conv_dtype();
  Tensor x = load_model_input(input, dtype, opt.size_divisor);
  autograd::NoGradGuard ng;
  nn::NamedTensors maps = net->forward(x);
  save_safetensors(out, maps, {{"config", config}, {"weights", weights}, {"input", input},
                               {"input_shape", shape_str(x.shape())}});
  return maps;
}

std::string inspect_against_model(const std::string& file, const std::string& config, const std::string& model_type,
                                  const std::string& pth_key, bool strip_module) {
  VPS_CHECK(config.empty() != model_type.empty(), "inspect: give exactly one of a config file or a model type");
  std::shared_ptr<nn::Module> m =
      config.empty() ? build_model(nlohmann::json{{"type", model_type}}) : build_model_from_file(config);
  PthOptions pth;
  pth.select_key = pth_key;
  pth.strip_module = strip_module;
  KeyReport r = compare_with_model(*m, file, pth);
  std::string what = config.empty() ? model_type : config;
  return str_cat(file, " against ", what, " (", m->type_name(), ", ", m->state_dict().size(), " keys):\n",
                 r.to_string(), r.ok() ? "\n" : "");
}

}  // namespace vps::models
