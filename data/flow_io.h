// The pair-flow file shared by the synthetic generator, `vps flow`, the trainer and `vps eval tc`:
// one safetensors file per (target, reference) pair, `<dir>/<target_stem>__<ref_stem>.safetensors`, with
//   flow  (2, H, W) float32 or float16: the FORWARD flow of the target, channel 0 = dx, 1 = dy; the target
//         pixel (x, y) is at (x + dx, y + dy) in the reference, so resample2d(reference, flow) warps the
//         reference onto the target;
//   valid (1, H, W) uint8: 1 = visible in both frames, 0 = occluded / leaves the image / unknown;
// and the metadata strings target, reference (image file names), height, width (of the flow), scale (flow
// resolution / image resolution; flow values are pixels of the flow's own grid) and source.
#pragma once
#include <cstdint>
#include <string>

#include "tensor/tensor.h"

namespace vps::data {

struct PairFlow {
  Tensor flow, valid;  // (2, H, W) float32 and (1, H, W) uint8, on the CPU
  double scale = 1.0;
  std::string source, target, reference;  // source: "synthetic-exact" or "flownet2"
};

// `<dir>/<target stem>__<ref stem>.safetensors` (stems: the file names without directory and extension).
std::string pair_flow_file(const std::string& dir, const std::string& target_file, const std::string& ref_file);

// Reads and validates a pair-flow file; the flow comes back as float32. vps::Error names the file and
// the key or shape on a missing tensor or metadata key, a wrong dtype or shape, or metadata that
// disagrees with the tensors.
PairFlow read_pair_flow(const std::string& path);

// Writes atomically; the flow is stored as float16 when `float16`, else float32. Shapes and dtypes are
// checked first (the error names `path`).
void write_pair_flow(const std::string& path, const PairFlow& f, bool float16);

// Refuses (naming `path`) a flow made for another pair or another grid: target/reference file names,
// the flow's height x width and its scale must be the ones the caller expects.
void check_pair_flow_matches(const PairFlow& f, const std::string& path, const std::string& target_file,
                             const std::string& ref_file, int64_t height, int64_t width, double scale);

}  // namespace vps::data
