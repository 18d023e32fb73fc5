// The fast paths of copies and of gradient accumulation (tensor/copy.h): contiguous operands, and on the
// CPU a row of the last dimension per item, against the element-by-element definition (each element
// read through the strides): the same values bit for bit, for transposed, sliced, broadcast and
// dtype-converting operands.
#include <gtest/gtest.h>

#include <vector>

#include "ops/ops.h"
#include "tensor/copy.h"
#include "tests/gradcheck.h"

using namespace vps;
using vps::testing::rnd;

namespace {
// Element (i, j, k) of a 3-D tensor read through its strides.
template <class T>
T at(const Tensor& t, int64_t i, int64_t j, int64_t k) {
  const T* p = static_cast<const T*>(t.impl()->storage->data) + t.offset();
  return p[i * t.strides()[0] + j * t.strides()[1] + k * t.strides()[2]];
}
}  // namespace

TEST(CopyPaths, StridedCopiesAndAccumulationEqualTheElementwiseDefinition) {
  Tensor base = rnd({5, 7, 9}, 1, -1, 1, DType::f32);
  std::vector<Tensor> sources = {base, base.permute({2, 0, 1}).contiguous().permute({1, 2, 0}), base.transpose(0, 2).transpose(0, 2),
                                 slice(rnd({5, 7, 20}, 2, -1, 1, DType::f32), 2, 3, 12),
                                 slice(rnd({5, 14, 9}, 3, -1, 1, DType::f32), 1, 0, 14, 2)};
  for (size_t s = 0; s < sources.size(); ++s) {
    SCOPED_TRACE(s);
    const Tensor& src = sources[s];
    Tensor c = src.contiguous();
    Tensor d = Tensor::empty({5, 7, 9}, DType::f64);
    strided_copy(d, src);  // with a dtype conversion
    Tensor acc = rnd({5, 7, 9}, 4, -1, 1, DType::f32), acc0 = acc.clone();
    add_into(acc, src);
    Tensor acc_t = rnd({9, 7, 5}, 5, -1, 1, DType::f32).transpose(0, 2), acc_t0 = acc_t.clone();
    add_into(acc_t, src);  // a strided destination
    for (int64_t i = 0; i < 5; ++i)
      for (int64_t j = 0; j < 7; ++j)
        for (int64_t k = 0; k < 9; ++k) {
          float v = at<float>(src, i, j, k);
          ASSERT_EQ(at<float>(c, i, j, k), v);
          ASSERT_EQ(at<double>(d, i, j, k), double(v));
          ASSERT_EQ(at<float>(acc, i, j, k), at<float>(acc0, i, j, k) + v);
          ASSERT_EQ(at<float>(acc_t, i, j, k), at<float>(acc_t0, i, j, k) + v);
        }
  }
  // a broadcast source (a row added to every row)
  Tensor row = rnd({9}, 6, -1, 1, DType::f32), acc = rnd({5, 7, 9}, 7, -1, 1, DType::f32), acc0 = acc.clone();
  add_into(acc, row);
  for (int64_t i = 0; i < 5; ++i)
    for (int64_t k = 0; k < 9; ++k) ASSERT_EQ(at<float>(acc, i, 3, k), at<float>(acc0, i, 3, k) + row.to_vector<float>()[size_t(k)]);
}
