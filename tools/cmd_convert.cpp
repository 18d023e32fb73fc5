// `vps convert IN OUT.safetensors`: flags -> tensor/io/convert.h. No logic here.
#include <cstdio>

#include "tensor/io/convert.h"
#include "data/fs_util.h"
#include "tools/command.h"

namespace {

int run_convert(const std::vector<std::string>& args) {
  vps::cli::Flags f("convert",
                    "Convert a PyTorch checkpoint (.pth/.pt, zip or legacy format) or a .safetensors file into a\n"
                    ".safetensors file, without Python. See docs/weights.md.");
  f.positionals("IN OUT.safetensors", 2, 2)
      .opt("key", "", "entry of a wrapping dict holding the weights (default: automatic: the dict itself, "
                      "else 'state_dict', else 'model')")
      .opt("rename", "", "JSON file {\"regex\": \"replacement\", ...} applied to every name, in order")
      .opt("prefix", "", "keep only tensors whose (source) name starts with this")
      .opt("dtype", "keep", "keep | f32: f32 casts float16/bfloat16/float64 tensors to float32")
      .flag("keep-module", "do not strip a leading 'module.' from names");
  if (!f.parse(args)) return 0;
  vps::ConvertOptions opt;
  opt.key = f.get("key");
  opt.prefix = f.get("prefix");
  opt.strip_module = !f.on("keep-module");
  std::string dtype = f.get("dtype");
  if (dtype != "keep" && dtype != "f32") throw vps::cli::UsageError("vps convert: --dtype must be keep or f32");
  opt.to_f32 = dtype == "f32";
  if (!f.get("rename").empty()) opt.renames = vps::read_rename_map(f.get("rename"));
  const auto& pos = f.positional();
  vps::data::remove_stale_temporaries(pos[1]);  // what a killed earlier run left
  vps::ConvertSummary s = vps::convert_weights(pos[0], pos[1], opt);
  std::printf("wrote %s: %zu tensor%s, %llu bytes\n", pos[1].c_str(), s.tensors, s.tensors == 1 ? "" : "s",
              static_cast<unsigned long long>(s.bytes));
  return 0;
}

}  // namespace

VPS_COMMAND("convert", "convert a .pth checkpoint (or .safetensors) to .safetensors", run_convert);
