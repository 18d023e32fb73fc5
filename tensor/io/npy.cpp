#include "tensor/io/npy.h"

#include <cstring>

namespace vps {

namespace {

const char kMagic[] = "\x93NUMPY";

struct Descr {
  const char* name;
  DType t;
};
constexpr Descr kDescrs[] = {{"<f4", DType::f32}, {"<f8", DType::f64}, {"<f2", DType::f16}, {"<i8", DType::i64},
                             {"<i4", DType::i32}, {"|u1", DType::u8},  {"<u1", DType::u8},  {"|b1", DType::b8}};

// A parser for the tiny subset of Python literals an npy header uses.
class HeaderParser {
 public:
  HeaderParser(const std::string& s, const std::string& what) : s_(s), what_(what) {}

  void parse(std::string* descr, bool* fortran, std::vector<int64_t>* shape) {
    bool have_descr = false, have_fortran = false, have_shape = false;
    expect('{');
    while (!accept('}')) {
      std::string key = string_lit();
      expect(':');
      if (key == "descr") {
        *descr = string_lit();
        have_descr = true;
      } else if (key == "fortran_order") {
        *fortran = bool_lit();
        have_fortran = true;
      } else if (key == "shape") {
        *shape = tuple_lit();
        have_shape = true;
      } else {
        fail("unexpected key '" + key + "'");
      }
      if (!accept(',')) {
        expect('}');
        break;
      }
    }
    if (!have_descr || !have_fortran || !have_shape) fail("needs 'descr', 'fortran_order' and 'shape'");
  }

 private:
  [[noreturn]] void fail(const std::string& msg) { VPS_FAIL(what_, ": bad npy header (", msg, "): ", s_); }
  void skip_ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\n' || s_[i_] == '\t' || s_[i_] == '\r')) ++i_;
  }
  bool accept(char c) {
    skip_ws();
    if (i_ < s_.size() && s_[i_] == c) return ++i_, true;
    return false;
  }
  void expect(char c) {
    if (!accept(c)) fail(std::string("expected '") + c + "'");
  }
  std::string string_lit() {
    skip_ws();
    if (i_ >= s_.size() || (s_[i_] != '\'' && s_[i_] != '"')) fail("expected a string");
    char q = s_[i_++];
    size_t end = s_.find(q, i_);
    if (end == std::string::npos) fail("unterminated string");
    std::string r = s_.substr(i_, end - i_);
    i_ = end + 1;
    return r;
  }
  bool bool_lit() {
    skip_ws();
    if (s_.compare(i_, 4, "True") == 0) return i_ += 4, true;
    if (s_.compare(i_, 5, "False") == 0) return i_ += 5, false;
    fail("expected True or False");
  }
  std::vector<int64_t> tuple_lit() {
    std::vector<int64_t> dims;
    expect('(');
    while (!accept(')')) {
      skip_ws();
      size_t start = i_;
      int64_t v = 0;
      while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') {
        if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, s_[i_] - '0', &v)) fail("dimension too large");
        ++i_;
      }
      if (i_ < s_.size() && s_[i_] == 'L') ++i_;  // Python 2 long suffix
      if (i_ == start) fail("expected a dimension");
      dims.push_back(v);
      if (!accept(',')) {
        expect(')');
        break;
      }
    }
    return dims;
  }

  const std::string& s_;
  const std::string& what_;
  size_t i_ = 0;
};

}  // namespace

RawArray parse_npy(const uint8_t* data, size_t size, const std::string& what) {
  ByteReader r(data, size, what);
  VPS_CHECK(size >= 10 && std::memcmp(data, kMagic, 6) == 0, what, ": not an npy file (bad magic)");
  r.seek(6);
  uint8_t major = r.u8(), minor = r.u8();
  VPS_CHECK(major >= 1 && major <= 3 && minor == 0, what, ": unsupported npy version ", int(major), ".", int(minor));
  size_t hlen = major == 1 ? r.u16() : r.u32();
  const uint8_t* h = r.take(hlen);
  std::string header(reinterpret_cast<const char*>(h), hlen);
  std::string descr;
  bool fortran = false;
  RawArray a;
  HeaderParser(header, what).parse(&descr, &fortran, &a.shape);
  VPS_CHECK(!fortran, what, ": fortran_order arrays are not supported (save with np.ascontiguousarray)");
  bool known = false;
  for (const Descr& d : kDescrs)
    if (descr == d.name) a.dtype = d.t, known = true;
  VPS_CHECK(known, what, ": unsupported npy dtype '", descr, "' (supported: <f4 <f8 <f2 <i8 <i4 |u1 |b1)");
  uint64_t need = uint64_t(checked_numel(a.shape, what));
  VPS_CHECK(!__builtin_mul_overflow(need, uint64_t(dtype_size(a.dtype)), &need), what, ": data size overflows");
  VPS_CHECK(need <= r.remaining(), what, ": truncated data: ", descr, " ", shape_str(a.shape), " needs ", need,
            " bytes, the file has ", r.remaining());
  const uint8_t* p = r.take(need);
  a.data.assign(p, p + need);
  return a;
}

RawArray read_npy(const std::string& path) {
  std::vector<uint8_t> bytes = read_file_bytes(path);
  return parse_npy(bytes.data(), bytes.size(), "'" + path + "'");
}

void write_npy(const std::string& path, const RawArray& a) {
  const char* descr = nullptr;
  for (const Descr& d : kDescrs)
    if (d.t == a.dtype && !descr) descr = d.name;
  VPS_CHECK(descr, "'", path, "': dtype ", dtype_name(a.dtype), " cannot be stored in .npy");
  uint64_t need = uint64_t(checked_numel(a.shape, "'" + path + "'")) * dtype_size(a.dtype);
  VPS_CHECK(need == a.data.size(), "'", path, "': array has ", a.data.size(), " bytes but ", shape_str(a.shape),
            " needs ", need);
  std::string dict = std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': (";
  for (size_t i = 0; i < a.shape.size(); ++i) dict += (i ? ", " : "") + std::to_string(a.shape[i]);
  if (a.shape.size() == 1) dict += ",";  // a 1-tuple
  dict += "), }";
  // Pad with spaces and a final newline so that the data starts at a multiple of 64 bytes.
  bool v2 = dict.size() + 1 + 10 > 65535;
  size_t prefix = v2 ? 12 : 10;
  size_t total = (prefix + dict.size() + 1 + 63) / 64 * 64;
  dict.append(total - prefix - dict.size() - 1, ' ');
  dict += '\n';
  std::string head(kMagic, 6);
  head += char(v2 ? 2 : 1);
  head += char(0);
  size_t hl = dict.size();
  for (size_t i = 0; i < (v2 ? 4u : 2u); ++i) head += char((hl >> (8 * i)) & 0xff);
  head += dict;
  write_file_atomic(path, {{head.data(), head.size()}, {a.data.data(), a.data.size()}});
}

}  // namespace vps
