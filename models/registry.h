// Registry: a config's "type" -> a builder, plus JSON config loading with errors that name the file and
// the key. Two kinds self-register from their .cpp (the library is linked whole-archive, so the static
// registrars always run): models (VPS_REGISTER_MODEL, trainable, models/model.h) and parts
// (VPS_REGISTER_MODULE: ResNet, FPN, ResNetFPN, usable alone for features and weight checks).
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "layers/module.h"
#include "models/model.h"

namespace vps::models {

using ModelBuilder = std::function<std::shared_ptr<Model>(const nlohmann::json&)>;
using ModuleBuilder = std::function<std::shared_ptr<nn::Module>(const nlohmann::json&)>;

// Registers `type`; registering the same type twice (as either kind) is an error.
void register_model(const std::string& type, ModelBuilder builder);
void register_module(const std::string& type, ModuleBuilder builder);
// Builds cfg["type"] (a config whose top level has a "model" object builds that object). vps::Error
// names the type when unknown (listing the known ones) and the key when a value is missing or wrong.
// build_model: a trainable model only (a part such as ResNetFPN is refused by name); build_module:
// any registered type.
std::shared_ptr<Model> build_model(const nlohmann::json& cfg);
std::shared_ptr<nn::Module> build_module(const nlohmann::json& cfg);
std::vector<std::string> registered_models();  // every registered type, sorted
// Reads a JSON file; vps::Error names the path (unreadable file, parse error with its byte position).
nlohmann::json load_config(const std::string& path);
// load_config + build_model / build_module; any error is prefixed with the path.
std::shared_ptr<Model> build_model_from_file(const std::string& path);
std::shared_ptr<nn::Module> build_module_from_file(const std::string& path);

struct ModelRegistrar {
  ModelRegistrar(const std::string& type, ModelBuilder builder) { register_model(type, std::move(builder)); }
  ModelRegistrar(const std::string& type, ModuleBuilder builder, bool) { register_module(type, std::move(builder)); }
};

}  // namespace vps::models

#define VPS_MODEL_CONCAT_(a, b) a##b
#define VPS_MODEL_CONCAT(a, b) VPS_MODEL_CONCAT_(a, b)
// VPS_REGISTER_MODEL("MaskRCNN", [](const nlohmann::json& cfg) -> std::shared_ptr<Model> { ... });
#define VPS_REGISTER_MODEL(type, ...) \
  static ::vps::models::ModelRegistrar VPS_MODEL_CONCAT(vps_model_registrar_, __LINE__)( \
      type, ::vps::models::ModelBuilder(__VA_ARGS__))
// VPS_REGISTER_MODULE("ResNetFPN", [](const nlohmann::json& cfg) -> std::shared_ptr<nn::Module> { ... });
#define VPS_REGISTER_MODULE(type, ...) \
  static ::vps::models::ModelRegistrar VPS_MODEL_CONCAT(vps_model_registrar_, __LINE__)( \
      type, ::vps::models::ModuleBuilder(__VA_ARGS__), true)
