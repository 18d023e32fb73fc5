#include "models/config_reader.h"

#include <map>
#include <set>

#include "tensor/check.h"

namespace vps::models::cfg {

// One object of the config: its value, its name in errors, the keys read and the sections taken.
struct Reader::Node {
  nlohmann::json value;
  std::string where;
  std::set<std::string> read;
  std::map<std::string, std::shared_ptr<Node>> sections;
  bool top = true;  // the config itself, not a section of it
};

Reader::Reader(std::shared_ptr<Node> n) : node_(std::move(n)) {}

Reader::Reader(const nlohmann::json& j, const std::string& where) : node_(std::make_shared<Node>()) {
  VPS_CHECK(j.is_object(), "config ", where, ": expected an object, got ", j.dump());
  node_->value = j;
  node_->where = where;
}

const std::string& Reader::where() const { return node_->where; }

bool Reader::has(const std::string& key) const { return node_->value.contains(key); }

const nlohmann::json* Reader::raw(const std::string& key) {
  node_->read.insert(key);
  auto it = node_->value.find(key);
  return it == node_->value.end() ? nullptr : &*it;
}

void Reader::accept(std::initializer_list<const char*> keys) {
  for (const char* k : keys) node_->read.insert(k);
}

namespace {

// Checks a present value with `ok`, naming where.key, the expected kind and the value otherwise.
template <class Ok>
void expect(const nlohmann::json& v, Ok ok, const std::string& where, const std::string& key, const char* kind) {
  VPS_CHECK(ok(v), "config ", where, ".", key, ": expected ", kind, ", got ", v.dump());
}

template <class T, class Pred>
std::vector<T> array_of(const nlohmann::json* v, const std::vector<T>& def, const std::string& where,
                        const std::string& key, Pred is_elem, const char* kind) {
  if (!v) return def;
  auto all = [&](const nlohmann::json& a) {
    if (!a.is_array()) return false;
    for (auto& e : a)
      if (!is_elem(e)) return false;
    return true;
  };
  expect(*v, all, where, key, kind);
  std::vector<T> out;
  for (auto& e : *v) out.push_back(e.template get<T>());
  return out;
}

}  // namespace

int64_t Reader::get_int(const std::string& key, int64_t def) {
  const nlohmann::json* v = raw(key);
  if (!v) return def;
  expect(*v, [](const nlohmann::json& x) { return x.is_number_integer(); }, where(), key, "an integer");
  return v->get<int64_t>();
}

bool Reader::get_bool(const std::string& key, bool def) {
  const nlohmann::json* v = raw(key);
  if (!v) return def;
  expect(*v, [](const nlohmann::json& x) { return x.is_boolean(); }, where(), key, "true or false");
  return v->get<bool>();
}

double Reader::get_double(const std::string& key, double def) {
  const nlohmann::json* v = raw(key);
  if (!v) return def;
  expect(*v, [](const nlohmann::json& x) { return x.is_number(); }, where(), key, "a number");
  return v->get<double>();
}

std::string Reader::get_string(const std::string& key, const std::string& def) {
  const nlohmann::json* v = raw(key);
  if (!v) return def;
  expect(*v, [](const nlohmann::json& x) { return x.is_string(); }, where(), key, "a string");
  return v->get<std::string>();
}

std::vector<int64_t> Reader::get_ints(const std::string& key, const std::vector<int64_t>& def) {
  return array_of<int64_t>(raw(key), def, where(), key, [](const nlohmann::json& e) { return e.is_number_integer(); },
                           "an array of integers");
}

std::vector<double> Reader::get_doubles(const std::string& key, const std::vector<double>& def) {
  return array_of<double>(raw(key), def, where(), key, [](const nlohmann::json& e) { return e.is_number(); },
                          "an array of numbers");
}

Reader Reader::section(const std::string& key) {
  auto found = node_->sections.find(key);
  if (found != node_->sections.end()) return Reader(found->second);
  const nlohmann::json* v = raw(key);
  // Errors name a section by its path below the top level ("train_cfg.rpn"), as the configs are written.
  std::string w = node_->top ? key : node_->where + "." + key;
  Reader child(v ? *v : nlohmann::json::object(), w);
  child.node_->top = false;
  node_->sections.emplace(key, child.node_);
  return child;
}

void Reader::finish() const {
  std::string known;
  for (auto& k : node_->read) known += (known.empty() ? "" : ", ") + k;
  for (auto it = node_->value.begin(); it != node_->value.end(); ++it)
    VPS_CHECK(node_->read.count(it.key()), "config ", where(), ": unknown key '", it.key(), "' (known: ", known, ")");
  for (auto& [key, child] : node_->sections) Reader(child).finish();
}

}  // namespace vps::models::cfg
