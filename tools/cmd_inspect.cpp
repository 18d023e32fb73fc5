// `vps inspect FILE [--config F | --model TYPE]`: lists the tensors of a .safetensors, .npy or .pth
// file, or compares its keys with a model's. No logic here.
#include <cstdio>

#include "models/weights_io.h"
#include "tensor/io/weights_file.h"
#include "tools/command.h"

namespace {

int run_inspect(const std::vector<std::string>& args) {
  vps::cli::Flags f("inspect",
                    "List name, dtype, shape and size of every tensor in a .safetensors, .npy or .pth file.\n"
                    "With --config or --model: list the keys the model expects but the file lacks (missing), the\n"
                    "keys the file has that the model does not use (unexpected) and shape mismatches; exit code 1 when\n"
                    "any key is missing or mis-shaped (unexpected keys alone exit 0).");
  f.positionals("FILE", 1, 1)
      .opt("key", "", "for checkpoints: entry of a wrapping dict holding the weights (default: automatic)")
      .opt("config", "", "compare with the model built from this JSON config (configs/*.json)")
      .opt("model", "", "compare with the model of this registered type built with default options (e.g. ResNetFPN)")
      .flag("keep-module", "do not strip a leading 'module.' from names");
  if (!f.parse(args)) return 0;
  if (!f.get("config").empty() && !f.get("model").empty())
    throw vps::cli::UsageError("vps inspect: give --config or --model, not both");
  vps::PthOptions opt;
  opt.select_key = f.get("key");
  opt.strip_module = !f.on("keep-module");
  const std::string& path = f.positional()[0];
  if (f.get("config").empty() && f.get("model").empty()) {
    std::fputs(vps::describe_weights(path, vps::load_weights(path, opt)).c_str(), stdout);
    return 0;
  }
  bool complete = false;
  std::fputs(vps::models::inspect_against_model(path, f.get("config"), f.get("model"), opt.select_key,
                                                opt.strip_module, &complete).c_str(), stdout);
  return complete ? 0 : 1;  // missing or mis-shaped keys: the file cannot initialise the whole model
}

}  // namespace

VPS_COMMAND("inspect", "list the tensors of a .safetensors, .npy or .pth file, or compare them with a model",
            run_inspect);
