// cfg::Reader: typed access to a JSON config that records every key the program reads. finish() on the
// root then refuses any key that nothing read, naming its path and the keys that are known there. So a
// key is known because code reads it: there is no separate list of allowed keys to keep in step, and a
// typo ("dpeth") or a key of another model never passes silently.
//
//   cfg::Reader r(json, "MaskRCNN");
//   r.accept({"type"});                       // read by the registry
//   o.seed = r.get_int("seed", 0);
//   cfg::Reader h = r.section("rpn_head");     // {} when absent; errors say "rpn_head.<key>"
//   o.rpn.in_channels = h.get_int("in_channels", 256);
//   r.finish();                               // throws: config rpn_head: unknown key 'in_channel' (known: ...)
#pragma once
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace vps::models::cfg {

class Reader {
 public:
  // `j` must be an object ("config <where>: expected an object, got ..."). The reader keeps a copy.
  Reader(const nlohmann::json& j, const std::string& where);

  // Each getter records `key`; it returns `def` when the key is absent and throws, naming where.key,
  // when the value has another type.
  int64_t get_int(const std::string& key, int64_t def);
  bool get_bool(const std::string& key, bool def);
  double get_double(const std::string& key, double def);
  std::string get_string(const std::string& key, const std::string& def);
  std::vector<int64_t> get_ints(const std::string& key, const std::vector<int64_t>& def);
  std::vector<double> get_doubles(const std::string& key, const std::vector<double>& def);
  // The object at `key` (an empty one when absent) as a reader whose keys finish() checks too.
  Reader section(const std::string& key);
  // The raw value at `key` (nullptr when absent), recorded; for fields of more than one type.
  const nlohmann::json* raw(const std::string& key);
  bool has(const std::string& key) const;  // records nothing
  // Marks keys as read that another part of the program reads (e.g. "type", read by the registry).
  void accept(std::initializer_list<const char*> keys);

  // Throws on the first key, here or in any section taken from here, that was never read.
  void finish() const;
  const std::string& where() const;

 private:
  struct Node;
  explicit Reader(std::shared_ptr<Node> n);
  std::shared_ptr<Node> node_;
};

// Reads a whole config object `j` through `read(Reader&)` and refuses every key it did not read;
// returns what `read` returns.
template <class Read>
auto read_all(const nlohmann::json& j, const std::string& where, Read read) {
  Reader r(j, where);
  auto out = read(r);
  r.finish();
  return out;
}

}  // namespace vps::models::cfg
