// `vps`: one binary, git-style subcommands. Exit codes: 0 ok, 1 runtime error, 2 usage error.
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "tensor/check.h"
#include "tools/command.h"

static void print_usage() {
  std::printf("usage: vps <command> [flags]   (vps <command> --help for its flags)\n\ncommands:\n");
  for (const auto& [name, cmd] : vps::cli::registry())
    std::printf("  %-16s %s\n", name.c_str(), cmd.summary.c_str());
}

int main(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h" ||
      std::string(argv[1]) == "help") {
    print_usage();
    return argc < 2 ? 2 : 0;
  }
  auto& reg = vps::cli::registry();
  auto it = reg.find(argv[1]);
  if (it == reg.end()) {
    std::fprintf(stderr, "vps: unknown command '%s'\n", argv[1]);
    print_usage();
    return 2;
  }
  std::vector<std::string> args(argv + 2, argv + argc);
  try {
    return it->second.run(args);
  } catch (const vps::cli::UsageError& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "vps %s: error: %s\n", argv[1], e.what());
    return 1;
  }
}
