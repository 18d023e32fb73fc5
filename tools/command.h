// The `vps` subcommand registry and a small shared flag parser.
// Each subcommand lives in its own tools/cmd_*.cpp and registers itself with VPS_COMMAND.
#pragma once
#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace vps::cli {

// Thrown for usage errors (exit code 2). Runtime failures throw vps::Error (exit code 1).
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Declarative flags: define them, then parse argv; `--help` prints the generated help.
class Flags {
 public:
  Flags(std::string command, std::string summary);
  // A flag with a default (empty default and required=true means the flag must be given). A name
  // defined twice is refused (UsageError naming it).
  Flags& opt(const std::string& name, const std::string& def, const std::string& help, bool required = false);
  Flags& flag(const std::string& name, const std::string& help);  // boolean switch, default false
  // Parses argv (after the subcommand). Returns false when --help was printed. A flag given twice
  // (`--out a --out b`) is a usage error naming it, not a silent last-one-wins.
  bool parse(const std::vector<std::string>& args);
  std::string get(const std::string& name) const;
  // Numbers are range-checked here, before they reach allocations or system calls: a value outside
  // [lo, hi] is a usage error naming the flag and its range.
  int get_int(const std::string& name, int lo, int hi) const;
  int64_t get_int64(const std::string& name, int64_t lo, int64_t hi) const;
  double get_double(const std::string& name, double lo, double hi) const;
  // A comma-separated list ("a,b,c"); empty items are refused, and so are items outside `allowed`
  // when it is not empty.
  std::vector<std::string> get_list(const std::string& name, const std::vector<std::string>& allowed = {}) const;
  // One value of `allowed` (usage error otherwise, naming the flag and the allowed values).
  std::string get_choice(const std::string& name, const std::vector<std::string>& allowed) const;
  bool on(const std::string& name) const;
  bool defines(const std::string& name) const { return defs_.count(name) > 0; }
  const std::vector<std::string>& positional() const { return positional_; }
  std::string help() const;
  // Allow positional arguments, described in help as `usage`.
  Flags& positionals(const std::string& usage, size_t min_count, size_t max_count);

 private:
  struct Def {
    std::string def, help;
    bool required = false, boolean = false;
  };
  std::string command_, summary_, pos_usage_;
  size_t pos_min_ = 0, pos_max_ = 0;
  void define(const std::string& name, Def d);
  std::map<std::string, Def> defs_;
  std::vector<std::string> order_;
  std::map<std::string, std::string> values_;
  std::vector<std::string> positional_;
};

// --threads of every command: 0 means all cores.
constexpr int kThreadsFlagMax = 1024;

// The thread default of the commands that train or run a model (tools/main.cpp), for their --help.
inline const char* kThreadsHelp =
    "Threads: all cores for one process; with several ranks on one machine (mpirun, srun) each takes cores / local\n"
    "ranks (at least 1): two processes whose OpenMP threads shared 2 cores ran 10-70x slower. OMP_NUM_THREADS\n"
    "overrides it; beside other jobs on the same cores set it yourself, e.g. OMP_NUM_THREADS=1 (docs/distributed.md).";

using CommandFn = std::function<int(const std::vector<std::string>& args)>;
struct Command {
  std::string name, summary;
  CommandFn run;
};
std::map<std::string, Command>& registry();
struct Registrar {
  Registrar(const std::string& name, const std::string& summary, CommandFn fn);
};

// The whole `vps` command line (argv[0] is the program): dispatch, --version, --debug, and the exit
// codes 0 ok, 1 runtime error, 2 usage error. Errors go to `err` without the [file.cpp:NN] source
// locations of vps::Error unless --debug is given (or VPS_DEBUG=1 is set for the process).
int run_main(int argc, char** argv, std::FILE* out, std::FILE* err);
// A vps::Error message without its " [file.cpp:NN]" source locations.
std::string strip_source_locations(const std::string& message);
extern const char* const kVersion;

}  // namespace vps::cli

#define VPS_CONCAT_(a, b) a##b
#define VPS_CONCAT(a, b) VPS_CONCAT_(a, b)
// VPS_COMMAND("eval", "evaluate predictions", fn): registers `vps eval`.
#define VPS_COMMAND(name, summary, fn) \
  static ::vps::cli::Registrar VPS_CONCAT(vps_cmd_registrar_, __LINE__)(name, summary, fn)
