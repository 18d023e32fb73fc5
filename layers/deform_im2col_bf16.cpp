// deform_conv2d's bf16 column tile (layers/kernels/deform_im2col.h): the bilinear samples rounded to bf16
// as they are stored, in a function cloned for the CPU's vector width. Built for the baseline only
// (inlined into the forward's loop) the rounding did not vectorise and this was slower than sampling
// into float32 and rounding the tile in a second pass.
#include "layers/kernels/deform_im2col.h"
#include "tensor/hd.h"

namespace vps {

VPS_AVX512_CLONE void deform_im2col_bf16(const DeformGeom& g, const DeformTap<float>* taps, const float* xT,
                                          const float* zero, bf16* col, int64_t L) {
  DeformIm2colBody<float, bf16> body{g, taps, xT, zero, col, L, g.run()};
  for (int64_t i = 0; i < body.count(); ++i) body(i);
}

}  // namespace vps
