// `vps`: one binary, git-style subcommands (tools/cmd_*.cpp); the dispatch is vps::cli::run_main.
#include <cstdio>

#include "tools/command.h"

int main(int argc, char** argv) { return vps::cli::run_main(argc, argv, stdout, stderr); }
