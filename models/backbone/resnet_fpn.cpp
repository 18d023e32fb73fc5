#include "models/backbone/resnet_fpn.h"

#include "models/registry.h"
#include "tensor/check.h"

namespace vps::models {

ResNetFPN::ResNetFPN(const ResNetOptions& b, const FPNOptions& n) {
  backbone = register_module("backbone", std::make_shared<ResNet>(b));
  FPNOptions neck_opt = n;
  if (neck_opt.in_channels.empty()) neck_opt.in_channels = backbone->out_channels();
  VPS_CHECK(neck_opt.in_channels == backbone->out_channels(), "ResNetFPN: neck in_channels do not match the ",
            "backbone's out_channels");
  neck = register_module("neck", std::make_shared<FPN>(neck_opt));
}

nn::NamedTensors ResNetFPN::forward(const Tensor& image) {
  std::vector<Tensor> c = backbone->forward(image);
  return name_features(backbone->options().out_indices, c, neck->forward(c));
}

nn::NamedTensors name_features(const std::vector<int>& idx, const std::vector<Tensor>& c,
                               const std::vector<Tensor>& p) {
  VPS_CHECK(idx.size() == c.size() && !idx.empty(), "name_features: ", c.size(), " maps for ", idx.size(),
            " out_indices");
  nn::NamedTensors out;
  for (size_t i = 0; i < c.size(); ++i) out.emplace_back("C" + std::to_string(idx[i] + 2), c[i]);
  for (size_t i = 0; i < p.size(); ++i) out.emplace_back("P" + std::to_string(idx[0] + 2 + int(i)), p[i]);
  return out;
}

namespace {

DType dtype_of(const nlohmann::json& j, const std::string& where) {
  std::string d = cfg::get_string(j, "dtype", "f32", where);
  VPS_CHECK(d == "f32" || d == "f64", "config ", where, ".dtype: expected \"f32\" or \"f64\", got \"", d, "\"");
  return d == "f64" ? DType::f64 : DType::f32;
}

}  // namespace

ResNetOptions resnet_options_from_json(const nlohmann::json& j, const std::string& w) {
  cfg::check_keys(j, {"type", "depth", "base_width", "in_channels", "frozen_stages", "norm_eval", "out_indices",
                      "dtype", "seed", "style", "num_stages", "stage_blocks"}, w);
  VPS_CHECK(cfg::get_string(j, "style", "pytorch", w) == "pytorch", "config ", w,
            ".style: only \"pytorch\" (stride on the 3x3 conv) is supported");
  VPS_CHECK(cfg::get_int(j, "num_stages", 4, w) == 4, "config ", w, ".num_stages: only 4 is supported");
  ResNetOptions o;
  o.depth = int(cfg::get_int(j, "depth", o.depth, w));
  o.base_width = cfg::get_int(j, "base_width", o.base_width, w);
  o.in_channels = cfg::get_int(j, "in_channels", o.in_channels, w);
  o.frozen_stages = int(cfg::get_int(j, "frozen_stages", o.frozen_stages, w));
  o.norm_eval = cfg::get_bool(j, "norm_eval", o.norm_eval, w);
  std::vector<int64_t> oi = cfg::get_ints(j, "out_indices", {0, 1, 2, 3}, w);
  o.out_indices.assign(oi.begin(), oi.end());
  std::vector<int64_t> sb = cfg::get_ints(j, "stage_blocks", {}, w);
  o.stage_blocks.assign(sb.begin(), sb.end());
  o.dtype = dtype_of(j, w);
  o.seed = uint64_t(cfg::get_int(j, "seed", 0, w));
  return o;
}

FPNOptions fpn_options_from_json(const nlohmann::json& j, const std::string& w) {
  cfg::check_keys(j, {"type", "in_channels", "out_channels", "num_outs", "dtype", "seed"}, w);
  FPNOptions o;
  o.in_channels = cfg::get_ints(j, "in_channels", {}, w);
  o.out_channels = cfg::get_int(j, "out_channels", o.out_channels, w);
  o.num_outs = int(cfg::get_int(j, "num_outs", o.num_outs, w));
  o.dtype = dtype_of(j, w);
  o.seed = uint64_t(cfg::get_int(j, "seed", 1, w));
  return o;
}

std::shared_ptr<ResNetFPN> build_resnet_fpn(const nlohmann::json& c) {
  cfg::check_keys(c, {"type", "dtype", "backbone", "neck"}, "ResNetFPN");
  // Absent sections take the defaults (ResNet-50, FPN 256 x 5 on the backbone's channels).
  nlohmann::json b = c.value("backbone", nlohmann::json::object()), n = c.value("neck", nlohmann::json::object());
  if (c.contains("dtype")) {  // top-level dtype applies to both unless they set their own
    if (b.is_object() && !b.contains("dtype")) b["dtype"] = c.at("dtype");
    if (n.is_object() && !n.contains("dtype")) n["dtype"] = c.at("dtype");
  }
  return std::make_shared<ResNetFPN>(resnet_options_from_json(b, "backbone"), fpn_options_from_json(n, "neck"));
}

int fold_batch_norms(nn::Module& m) {
  int n = 0;
  if (auto* r = dynamic_cast<ResNet*>(&m)) {
    if (!r->folded()) {
      r->fold_batch_norm();
      ++n;
    }
    return n;
  }
  for (auto& c : m.named_children()) n += fold_batch_norms(*c.second);
  return n;
}

VPS_REGISTER_MODULE("ResNetFPN", [](const nlohmann::json& c) -> std::shared_ptr<nn::Module> {
  return build_resnet_fpn(c);
});
VPS_REGISTER_MODULE("ResNet", [](const nlohmann::json& c) -> std::shared_ptr<nn::Module> {
  return std::make_shared<ResNet>(resnet_options_from_json(c, "ResNet"));
});
VPS_REGISTER_MODULE("FPN", [](const nlohmann::json& c) -> std::shared_ptr<nn::Module> {
  FPNOptions o = fpn_options_from_json(c, "FPN");
  if (o.in_channels.empty()) o.in_channels = {256, 512, 1024, 2048};  // ResNet-50's C2..C5
  return std::make_shared<FPN>(o);
});

}  // namespace vps::models
