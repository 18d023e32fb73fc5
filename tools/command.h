// The `vps` subcommand registry and a small shared flag parser.
// Each subcommand lives in its own tools/cmd_*.cpp and registers itself with VPS_COMMAND.
#pragma once
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
  // A flag with a default (empty default and required=true means the flag must be given).
  Flags& opt(const std::string& name, const std::string& def, const std::string& help, bool required = false);
  Flags& flag(const std::string& name, const std::string& help);  // boolean switch, default false
  // Parses argv (after the subcommand). Returns false when --help was printed.
  bool parse(const std::vector<std::string>& args);
  std::string get(const std::string& name) const;
  int get_int(const std::string& name) const;
  double get_double(const std::string& name) const;
  bool on(const std::string& name) const;
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
  std::map<std::string, Def> defs_;
  std::vector<std::string> order_;
  std::map<std::string, std::string> values_;
  std::vector<std::string> positional_;
};

using CommandFn = std::function<int(const std::vector<std::string>& args)>;
struct Command {
  std::string name, summary;
  CommandFn run;
};
std::map<std::string, Command>& registry();
struct Registrar {
  Registrar(const std::string& name, const std::string& summary, CommandFn fn);
};

}  // namespace vps::cli

#define VPS_CONCAT_(a, b) a##b
#define VPS_CONCAT(a, b) VPS_CONCAT_(a, b)
// VPS_COMMAND("eval", "evaluate predictions", fn): registers `vps eval`.
#define VPS_COMMAND(name, summary, fn) \
  static ::vps::cli::Registrar VPS_CONCAT(vps_cmd_registrar_, __LINE__)(name, summary, fn)
