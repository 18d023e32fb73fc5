// `vps inspect FILE`: lists the tensors of a .safetensors, .npy or .pth file. No logic here.
#include <cstdio>

#include "tensor/weights_file.h"
#include "tools/command.h"

namespace {

int run_inspect(const std::vector<std::string>& args) {
  vps::cli::Flags f("inspect", "List name, dtype, shape and size of every tensor in a .safetensors, .npy or .pth file.");
  f.positionals("FILE", 1, 1)
      .opt("key", "", "for checkpoints: entry of a wrapping dict holding the weights (default: automatic)")
      .flag("keep-module", "do not strip a leading 'module.' from names");
  if (!f.parse(args)) return 0;
  vps::PthOptions opt;
  opt.select_key = f.get("key");
  opt.strip_module = !f.on("keep-module");
  const std::string& path = f.positional()[0];
  std::fputs(vps::describe_weights(path, vps::load_weights(path, opt)).c_str(), stdout);
  return 0;
}

}  // namespace

VPS_COMMAND("inspect", "list the tensors of a .safetensors, .npy or .pth file", run_inspect);
