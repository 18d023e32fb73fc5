#include "models/backbone/resnet_fpn.h"

#include "models/config_reader.h"
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

DType dtype_of(cfg::Reader& r, const std::string& def) {
  std::string d = r.get_string("dtype", def);
  VPS_CHECK(d == "f32" || d == "f64", "config ", r.where(), ".dtype: expected \"f32\" or \"f64\", got \"", d, "\"");
  return d == "f64" ? DType::f64 : DType::f32;
}

}  // namespace

ResNetOptions resnet_options(cfg::Reader& r, const std::string& default_dtype) {
  r.accept({"type"});
  VPS_CHECK(r.get_string("style", "pytorch") == "pytorch", "config ", r.where(),
            ".style: only \"pytorch\" (stride on the 3x3 conv) is supported");
  VPS_CHECK(r.get_int("num_stages", 4) == 4, "config ", r.where(), ".num_stages: only 4 is supported");
  ResNetOptions o;
  o.depth = int(r.get_int("depth", o.depth));
  o.base_width = r.get_int("base_width", o.base_width);
  o.in_channels = r.get_int("in_channels", o.in_channels);
  o.frozen_stages = int(r.get_int("frozen_stages", o.frozen_stages));
  o.norm_eval = r.get_bool("norm_eval", o.norm_eval);
  std::vector<int64_t> oi = r.get_ints("out_indices", {0, 1, 2, 3});
  o.out_indices.assign(oi.begin(), oi.end());
  std::vector<int64_t> sb = r.get_ints("stage_blocks", {});
  o.stage_blocks.assign(sb.begin(), sb.end());
  o.dtype = dtype_of(r, default_dtype);
  o.seed = uint64_t(r.get_int("seed", 0));
  return o;
}

FPNOptions fpn_options(cfg::Reader& r, const std::string& default_dtype) {
  r.accept({"type"});
  FPNOptions o;
  o.in_channels = r.get_ints("in_channels", {});
  o.out_channels = r.get_int("out_channels", o.out_channels);
  o.num_outs = int(r.get_int("num_outs", o.num_outs));
  o.dtype = dtype_of(r, default_dtype);
  o.seed = uint64_t(r.get_int("seed", 1));
  return o;
}

ResNetOptions resnet_options_from_json(const nlohmann::json& j, const std::string& w) {
  return cfg::read_all(j, w, [](cfg::Reader& r) { return resnet_options(r); });
}

FPNOptions fpn_options_from_json(const nlohmann::json& j, const std::string& w) {
  return cfg::read_all(j, w, [](cfg::Reader& r) { return fpn_options(r); });
}

std::shared_ptr<ResNetFPN> build_resnet_fpn(const nlohmann::json& c) {
  return cfg::read_all(c, "ResNetFPN", [](cfg::Reader& r) {
    r.accept({"type"});
    // Absent sections take the defaults (ResNet-50, FPN 256 x 5 on the backbone's channels); a top-level
    // dtype applies to both unless they set their own.
    std::string dtype = r.get_string("dtype", "f32");
    cfg::Reader b = r.section("backbone"), n = r.section("neck");
    return std::make_shared<ResNetFPN>(resnet_options(b, dtype), fpn_options(n, dtype));
  });
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
