// Readable printing: header line, then values row by row (at most 6 per dim, elided with ...).
#include <cstdio>
#include <ostream>

#include "tensor/tensor.h"

namespace vps {

static void print_rec(std::ostream& os, const std::vector<double>& v, const Shape& sh, const Shape& st, size_t d,
                      int64_t off, bool is_int, int indent) {
  const int64_t edge = 3;
  if (sh.empty()) {
    char buf[32];
    std::snprintf(buf, sizeof buf, is_int ? "%.0f" : "%.6g", v[off]);
    os << buf;
    return;
  }
  os << "[";
  int64_t n = sh[d];
  for (int64_t i = 0; i < n; ++i) {
    if (n > 2 * edge && i == edge) {
      os << (d + 1 == sh.size() ? "..., " : "...\n" + std::string(indent + 1, ' '));
      i = n - edge;
    }
    if (d + 1 == sh.size()) {
      char buf[32];
      std::snprintf(buf, sizeof buf, is_int ? "%.0f" : "%.6g", v[off + i * st[d]]);
      os << buf;
    } else {
      print_rec(os, v, sh, st, d + 1, off + i * st[d], is_int, indent + 1);
    }
    if (i + 1 < n) os << (d + 1 == sh.size() ? ", " : ",\n" + std::string(indent + 1, ' '));
  }
  os << "]";
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) {
  os << t.str();
  if (!t.defined()) return os;
  if (t.requires_grad()) os << " requires_grad";
  os << "\n";
  std::vector<double> v = t.to_vector<double>();
  print_rec(os, v, t.shape(), contiguous_strides(t.shape()), 0, 0, !is_floating(t.dtype()), 0);
  return os;
}

}  // namespace vps
