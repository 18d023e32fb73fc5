#include "tensor/io/convert.h"

#include <ctime>
#include <nlohmann/json.hpp>
// libstdc++ 12's <regex> trips -Wmaybe-uninitialized false positives at -O1 with sanitizers (DEBUG=1).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <regex>
#pragma GCC diagnostic pop
#include <unordered_map>

#include "tensor/io/safetensors.h"
#include "tensor/io/weights_file.h"

namespace vps {

std::vector<std::pair<std::string, std::string>> read_rename_map(const std::string& path) {
  std::vector<uint8_t> bytes = read_file_bytes(path);
  nlohmann::ordered_json j;
  try {
    j = nlohmann::ordered_json::parse(bytes.begin(), bytes.end());
  } catch (const nlohmann::json::exception& e) {
    VPS_FAIL("rename map '", path, "': bad JSON: ", e.what());
  }
  VPS_CHECK(j.is_object(), "rename map '", path, "': must be a JSON object {\"regex\": \"replacement\", ...}");
  std::vector<std::pair<std::string, std::string>> rules;
  for (const auto& [k, v] : j.items()) {
    VPS_CHECK(v.is_string(), "rename map '", path, "': replacement for '", k, "' is not a string");
    rules.emplace_back(k, v.get<std::string>());
  }
  return rules;
}

// libstdc++'s std::regex matches by recursion, about one stack frame per input character: a
// 40,000-character name overflowed the stack. Names and patterns are bounded well below that.
constexpr size_t kMaxRegexInput = 1024;

void rename_arrays(NamedArrays* arrays, const std::vector<std::pair<std::string, std::string>>& rules) {
  std::vector<std::regex> res;
  for (const auto& [pattern, repl] : rules) {
    VPS_CHECK(pattern.size() <= kMaxRegexInput, "rename rule '", pattern.substr(0, 60), "...': ", pattern.size(),
              " characters, more than the limit of ", kMaxRegexInput);
    try {
      res.emplace_back(pattern, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      VPS_FAIL("rename rule '", pattern, "': invalid regular expression: ", e.what());
    }
  }
  std::unordered_map<std::string, std::string> origin;
  NamedArrays kept;
  for (auto& [name, a] : *arrays) {
    VPS_CHECK(rules.empty() || name.size() <= kMaxRegexInput, "tensor name '", name.substr(0, 60), "...' has ",
              name.size(), " characters, more than the ", kMaxRegexInput, " that rename rules accept");
    std::string renamed = name;
    for (size_t i = 0; i < rules.size() && !renamed.empty(); ++i)
      renamed = std::regex_replace(renamed, res[i], rules[i].second);
    if (renamed.empty()) continue;  // a rule that empties a name drops the tensor ({"^fc\\..*$": ""})
    auto [it, fresh] = origin.emplace(renamed, name);
    VPS_CHECK(fresh, "rename rules map both '", it->second, "' and '", name, "' to '", renamed, "'");
    kept.emplace_back(renamed, std::move(a));
  }
  *arrays = std::move(kept);
}

std::string utc_now_iso8601() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

ConvertSummary convert_weights(const std::string& in, const std::string& out, const ConvertOptions& opt) {
  PthOptions pth;
  pth.select_key = opt.key;
  pth.strip_module = opt.strip_module;
  pth.prefix_filter = opt.prefix;
  WeightsFile w = load_weights(in, pth);
  VPS_CHECK(opt.key.empty() || w.format == WeightFormat::pth_zip || w.format == WeightFormat::pth_legacy,
            "--key applies to PyTorch checkpoints only; '", in, "' is ", weight_format_name(w.format));
  NamedArrays arrays;
  for (auto& [name, a] : w.arrays) {  // the .pth reader filtered already; do the same for other formats
    std::string key = name;
    if (opt.strip_module && key.rfind("module.", 0) == 0) key = key.substr(7);
    if (key.compare(0, opt.prefix.size(), opt.prefix) != 0) continue;
    arrays.emplace_back(key, opt.to_f32 ? to_f32(a) : std::move(a));
  }
  VPS_CHECK(!arrays.empty(), "'", in, "': no tensors left to write",
            opt.prefix.empty() ? std::string() : " (none starts with '" + opt.prefix + "')");
  rename_arrays(&arrays, opt.renames);
  VPS_CHECK(!arrays.empty(), "'", in, "': the rename rules dropped every tensor");
  ConvertSummary s;
  s.metadata = w.metadata;  // safetensors input: keep; .pth input: "meta" when present
  s.metadata["source"] = in;
  s.metadata["source_format"] = weight_format_name(w.format);
  s.metadata["converted_at"] = utc_now_iso8601();
  s.metadata["tool"] = "vps 0.1";
  write_safetensors(out, arrays, s.metadata);
  s.tensors = arrays.size();
  for (const auto& [name, a] : arrays) s.bytes += a.nbytes();
  return s;
}

}  // namespace vps
