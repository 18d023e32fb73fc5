// `vps infer-features --config C --weights W --input IMG_OR_NPY --out OUT.safetensors`: flags ->
// infer/features.h. No logic here.
#include <cstdio>

#include "infer/features.h"
#include "data/fs_util.h"
#include "tools/command.h"

namespace {

int run_infer_features(const std::vector<std::string>& args) {
  vps::cli::Flags f("infer-features",
                    "Run the ResNet backbone and FPN neck of a model config (ResNetFPN, MaskRCNN, ...) on one input\n"
                    "and write the feature maps C2..C5 and P2..P6 to a .safetensors file. An image (PNG/JPEG) is read as RGB and normalised with\n"
                    "mean (123.675, 116.28, 103.53) and std (58.395, 57.12, 57.375); a .npy array ((C,H,W) or\n"
                    "(N,C,H,W)) is taken as is. Both are zero-padded at the bottom/right to a multiple of 32.");
  f.opt("config", "", "model config JSON (e.g. configs/resnet50_fpn.json)", true)
      .opt("weights", "", "weights: .safetensors or PyTorch .pth", true)
      .opt("input", "", "image (.png/.jpg) or .npy array", true)
      .opt("out", "", "output .safetensors file", true)
      .opt("size-divisor", "32", "pad the input to a multiple of this (1: no padding)")
      .flag("fold-bn", "fold BatchNorm into the convolutions after loading")
      .flag("non-strict", "allow keys missing from the weights file (they keep their initial values)");
  if (!f.parse(args)) return 0;
  vps::infer::FeatureOptions o;
  o.fold_bn = f.on("fold-bn");
  o.strict = !f.on("non-strict");
  o.size_divisor = f.get_int("size-divisor", 1, 1024);
  vps::data::remove_stale_temporaries(f.get("out"));  // what a killed earlier run left
  auto maps = vps::infer::infer_features(f.get("config"), f.get("weights"), f.get("input"), f.get("out"), o);
  std::printf("wrote %s\n", f.get("out").c_str());
  for (auto& [name, t] : maps) std::printf("  %s %s\n", name.c_str(), t.str().c_str());
  return 0;
}

}  // namespace

VPS_COMMAND("infer-features", "dump a backbone's feature maps (C2..C5, P2..P6) for one input", run_infer_features);
