// Error handling: every failure is a vps::Error carrying file:line and a message that names the
// op, the file or the shapes involved. Nothing in vps aborts on bad input.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace vps {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace detail {
inline void append(std::ostringstream&) {}
template <class T, class... R>
void append(std::ostringstream& os, const T& v, const R&... rest) {
  os << v;
  append(os, rest...);
}
}  // namespace detail

template <class... A>
std::string str_cat(const A&... a) {
  std::ostringstream os;
  detail::append(os, a...);
  return os.str();
}

[[noreturn]] inline void throw_error(const char* file, int line, const std::string& msg) {
  throw Error(msg + " [" + file + ":" + std::to_string(line) + "]");
}

}  // namespace vps

// VPS_CHECK(cond, parts...): throws vps::Error("parts..." [file:line]) when cond is false.
#define VPS_CHECK(cond, ...)                                                 \
  do {                                                                       \
    if (!(cond)) ::vps::throw_error(__FILE__, __LINE__, ::vps::str_cat(__VA_ARGS__)); \
  } while (0)
#define VPS_FAIL(...) ::vps::throw_error(__FILE__, __LINE__, ::vps::str_cat(__VA_ARGS__))
