#include "tools/command.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include "tensor/check.h"

namespace vps::cli {

std::map<std::string, Command>& registry() {
  static std::map<std::string, Command> r;
  return r;
}

Registrar::Registrar(const std::string& name, const std::string& summary, CommandFn fn) {
  registry()[name] = Command{name, summary, std::move(fn)};
}

Flags::Flags(std::string command, std::string summary)
    : command_(std::move(command)), summary_(std::move(summary)) {}

// A name defined twice would leave one of the two definitions silently unused.
void Flags::define(const std::string& name, Def d) {
  if (defs_.count(name)) throw UsageError("vps " + command_ + ": flag --" + name + " is defined more than once");
  defs_[name] = std::move(d);
}

Flags& Flags::opt(const std::string& name, const std::string& def, const std::string& help, bool required) {
  define(name, Def{def, help, required, false});
  order_.push_back(name);
  return *this;
}

Flags& Flags::flag(const std::string& name, const std::string& help) {
  define(name, Def{"", help, false, true});
  order_.push_back(name);
  return *this;
}

Flags& Flags::positionals(const std::string& usage, size_t min_count, size_t max_count) {
  pos_usage_ = usage;
  pos_min_ = min_count;
  pos_max_ = max_count;
  return *this;
}

std::string Flags::help() const {
  std::ostringstream os;
  os << "usage: vps " << command_ << (order_.empty() ? "" : " [flags]")
     << (pos_usage_.empty() ? "" : " " + pos_usage_) << "\n" << summary_ << "\n";
  if (!order_.empty()) os << "\nflags:\n";
  for (const auto& n : order_) {
    const Def& d = defs_.at(n);
    std::string left = "  --" + n + (d.boolean ? "" : " V");
    os << left << std::string(left.size() < 26 ? 26 - left.size() : 1, ' ') << d.help;
    if (d.required) os << " (required)";
    else if (!d.boolean && !d.def.empty()) os << " (default: " << d.def << ")";
    os << "\n";
  }
  return os.str();
}

bool Flags::parse(const std::vector<std::string>& args) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-h" || a == "--help") {
      std::fputs(help().c_str(), stdout);
      return false;
    }
    if (a.rfind("--", 0) == 0 && a.size() > 2) {
      std::string name = a.substr(2), value;
      size_t eq = name.find('=');
      bool has_value = eq != std::string::npos;
      if (has_value) {
        value = name.substr(eq + 1);
        name = name.substr(0, eq);
      }
      auto it = defs_.find(name);
      if (it == defs_.end()) throw UsageError("vps " + command_ + ": unknown flag --" + name + "\n" + help());
      if (values_.count(name)) throw UsageError("vps " + command_ + ": flag --" + name + " given more than once");
      if (it->second.boolean) {
        values_[name] = has_value ? value : "1";
      } else {
        if (!has_value) {
          if (i + 1 >= args.size()) throw UsageError("vps " + command_ + ": flag --" + name + " needs a value");
          value = args[++i];
        }
        values_[name] = value;
      }
    } else {
      positional_.push_back(a);
    }
  }
  if (positional_.size() < pos_min_ || positional_.size() > pos_max_) {
    throw UsageError("vps " + command_ + ": expected " +
                     (pos_usage_.empty() ? std::string("no positional arguments") : pos_usage_) + ", got " +
                     std::to_string(positional_.size()) + " positional argument(s)\n" + help());
  }
  for (const auto& n : order_) {
    if (defs_.at(n).required && !values_.count(n))
      throw UsageError("vps " + command_ + ": missing required flag --" + n + "\n" + help());
  }
  return true;
}

std::string Flags::get(const std::string& name) const {
  auto v = values_.find(name);
  if (v != values_.end()) return v->second;
  auto d = defs_.find(name);
  VPS_CHECK(d != defs_.end(), "vps ", command_, ": flag --", name, " was never defined");
  return d->second.def;
}

int64_t Flags::get_int64(const std::string& name, int64_t lo, int64_t hi) const {
  std::string s = get(name);
  int64_t v = 0;
  bool ok = false;
  try {
    size_t pos = 0;
    v = std::stoll(s, &pos);
    ok = pos == s.size();
  } catch (...) {
  }
  if (!ok || v < lo || v > hi)
    throw UsageError("vps " + command_ + ": --" + name + " must be an integer in [" + std::to_string(lo) + ", " +
                     std::to_string(hi) + "], got '" + s + "'");
  return v;
}

int Flags::get_int(const std::string& name, int lo, int hi) const { return int(get_int64(name, lo, hi)); }

double Flags::get_double(const std::string& name, double lo, double hi) const {
  std::string s = get(name);
  double v = 0;
  bool ok = false;
  try {
    size_t pos = 0;
    v = std::stod(s, &pos);
    ok = pos == s.size();
  } catch (...) {
  }
  if (!ok || !(v >= lo && v <= hi)) {
    std::ostringstream os;
    os << "vps " << command_ << ": --" << name << " must be a number in [" << lo << ", " << hi << "], got '" << s
       << "'";
    throw UsageError(os.str());
  }
  return v;
}

std::string Flags::get_choice(const std::string& name, const std::vector<std::string>& allowed) const {
  std::vector<std::string> v = get_list(name, allowed);
  if (v.size() != 1) throw UsageError("vps " + command_ + ": --" + name + " takes one value, got '" + get(name) + "'");
  return v[0];
}

std::vector<std::string> Flags::get_list(const std::string& name, const std::vector<std::string>& allowed) const {
  std::string s = get(name), all;
  for (const auto& a : allowed) all += (all.empty() ? "" : ", ") + a;
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t comma = s.find(',', start);
    std::string item = s.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (item.empty()) throw UsageError("vps " + command_ + ": --" + name + ": empty item in '" + s + "'");
    if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), item) == allowed.end())
      throw UsageError("vps " + command_ + ": --" + name + ": unknown item '" + item + "' (allowed: " + all + ")");
    out.push_back(item);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

bool Flags::on(const std::string& name) const {
  std::string v = get(name);
  return !v.empty() && v != "0" && v != "false";
}

const char* const kVersion = "0.2.0";

std::string strip_source_locations(const std::string& m) {
  // " [path/file.ext:123]" as appended by VPS_CHECK / VPS_FAIL (tensor/check.h)
  std::string out;
  size_t i = 0;
  while (i < m.size()) {
    if (m[i] == ' ' && i + 1 < m.size() && m[i + 1] == '[') {
      size_t close = m.find(']', i + 2), colon = m.rfind(':', close);
      bool loc = close != std::string::npos && colon != std::string::npos && colon > i + 2 && colon + 1 < close &&
                 m.find_first_not_of("0123456789", colon + 1) == close &&
                 m.find_first_of(" [", i + 2) > colon && m.find('.', i + 2) < colon;
      if (loc) {
        i = close + 1;
        continue;
      }
    }
    out += m[i++];
  }
  return out;
}

namespace {
void print_usage(std::FILE* out) {
  std::fprintf(out, "usage: vps [--debug] <command> [flags]   (vps <command> --help for its flags)\n"
                    "       vps --version\n\ncommands:\n");
  for (const auto& [name, cmd] : registry()) std::fprintf(out, "  %-16s %s\n", name.c_str(), cmd.summary.c_str());
}
}  // namespace

int run_main(int argc, char** argv, std::FILE* out, std::FILE* err) {
  std::vector<std::string> args(argv + 1, argv + argc);
  const char* env = std::getenv("VPS_DEBUG");
  bool debug = env && *env && std::strcmp(env, "0") != 0;
  while (!args.empty() && args[0] == "--debug") debug = true, args.erase(args.begin());
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    print_usage(args.empty() ? err : out);
    return args.empty() ? 2 : 0;
  }
  if (args[0] == "--version" || args[0] == "version") {
    std::fprintf(out, "vps %s\n", kVersion);
    return 0;
  }
  auto it = registry().find(args[0]);
  if (it == registry().end()) {
    std::fprintf(err, "vps: unknown command '%s'\n", args[0].c_str());
    print_usage(err);
    return 2;
  }
  std::vector<std::string> rest(args.begin() + 1, args.end());
  auto show = [&](const std::string& m) { return debug ? m : strip_source_locations(m); };
  try {
    return it->second.run(rest);
  } catch (const UsageError& e) {
    std::fprintf(err, "%s\n", show(e.what()).c_str());
    return 2;
  } catch (const std::bad_alloc&) {
    std::fprintf(err, "vps %s: error: out of memory\n", args[0].c_str());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(err, "vps %s: error: %s\n", args[0].c_str(), show(e.what()).c_str());
    return 1;
  }
}

}  // namespace vps::cli
