#include "tools/command.h"

#include <cstdio>
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

Flags& Flags::opt(const std::string& name, const std::string& def, const std::string& help, bool required) {
  defs_[name] = Def{def, help, required, false};
  order_.push_back(name);
  return *this;
}

Flags& Flags::flag(const std::string& name, const std::string& help) {
  defs_[name] = Def{"", help, false, true};
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

int Flags::get_int(const std::string& name) const {
  std::string s = get(name);
  try {
    size_t pos = 0;
    int v = std::stoi(s, &pos);
    if (pos == s.size()) return v;
  } catch (...) {
  }
  throw UsageError("vps " + command_ + ": --" + name + " expects an integer, got '" + s + "'");
}

double Flags::get_double(const std::string& name) const {
  std::string s = get(name);
  try {
    size_t pos = 0;
    double v = std::stod(s, &pos);
    if (pos == s.size()) return v;
  } catch (...) {
  }
  throw UsageError("vps " + command_ + ": --" + name + " expects a number, got '" + s + "'");
}

bool Flags::on(const std::string& name) const {
  std::string v = get(name);
  return !v.empty() && v != "0" && v != "false";
}

}  // namespace vps::cli
