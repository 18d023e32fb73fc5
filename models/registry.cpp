#include "models/registry.h"

#include <algorithm>
#include <map>

#include "tensor/check.h"
#include "tensor/io/raw_array.h"

namespace vps::models {

namespace {
struct Entry {
  ModelBuilder model;    // set for trainable models
  ModuleBuilder module;  // set for parts
};
std::map<std::string, Entry>& table() {
  static std::map<std::string, Entry> t;
  return t;
}

void add(const std::string& type, Entry e) {
  VPS_CHECK(!type.empty() && (e.model || e.module), "register_model: empty type or builder");
  VPS_CHECK(table().emplace(type, std::move(e)).second, "register_model: '", type, "' registered twice");
}

// The entry for cfg["type"] (or cfg["model"]["type"]) and the object it is built from.
const Entry& lookup(const nlohmann::json& cfg_in, const nlohmann::json** c_out, std::string* type_out) {
  const nlohmann::json& c = cfg_in.is_object() && cfg_in.contains("model") && !cfg_in.contains("type")
                                ? cfg_in.at("model") : cfg_in;
  VPS_CHECK(c.is_object() && c.contains("type") && c.at("type").is_string(),
            "build_model: the config needs a string \"type\" (or a \"model\" object with one)");
  std::string type = c.at("type").get<std::string>();
  auto it = table().find(type);
  if (it == table().end()) {
    std::string known;
    for (auto& n : registered_models()) known += (known.empty() ? "" : ", ") + n;
    VPS_FAIL("build_model: unknown model type '", type, "' (known: ", known, ")");
  }
  *c_out = &c;
  *type_out = type;
  return it->second;
}
}  // namespace

void register_model(const std::string& type, ModelBuilder builder) { add(type, Entry{std::move(builder), {}}); }
void register_module(const std::string& type, ModuleBuilder builder) { add(type, Entry{{}, std::move(builder)}); }

std::vector<std::string> registered_models() {
  std::vector<std::string> names;
  for (auto& kv : table()) names.push_back(kv.first);
  return names;
}

std::shared_ptr<Model> build_model(const nlohmann::json& cfg) {
  const nlohmann::json* c = nullptr;
  std::string type;
  const Entry& e = lookup(cfg, &c, &type);
  if (!e.model) {
    std::string models;
    for (auto& [n, en] : table())
      if (en.model) models += (models.empty() ? "" : ", ") + n;
    VPS_FAIL("build_model: '", type, "' is a model part, not a trainable model (models: ", models, ")");
  }
  return e.model(*c);
}

std::shared_ptr<nn::Module> build_module(const nlohmann::json& cfg) {
  const nlohmann::json* c = nullptr;
  std::string type;
  const Entry& e = lookup(cfg, &c, &type);
  if (e.model) return e.model(*c);
  return e.module(*c);
}

nlohmann::json load_config(const std::string& path) {
  std::vector<uint8_t> bytes = read_file_bytes(path);
  try {
    return nlohmann::json::parse(bytes.begin(), bytes.end());
  } catch (const nlohmann::json::exception& e) {
    VPS_FAIL("load_config: ", path, " is not valid JSON: ", e.what());
  }
}

namespace {
template <class F>
auto build_from_file(const std::string& path, F build) {
  nlohmann::json j = load_config(path);
  try {
    return build(j);
  } catch (const Error& e) {
    throw Error(path + ": " + e.what());
  } catch (const std::bad_alloc&) {
    VPS_FAIL(path, ": out of memory building the model (are its sizes right?)");
  }
}
}  // namespace

std::shared_ptr<Model> build_model_from_file(const std::string& path) {
  return build_from_file(path, [](const nlohmann::json& j) { return build_model(j); });
}
std::shared_ptr<nn::Module> build_module_from_file(const std::string& path) {
  return build_from_file(path, [](const nlohmann::json& j) { return build_module(j); });
}

}  // namespace vps::models
