// FlowNet2 (NVIDIA flownet2-pytorch models.py / mcahny/vps flownet2.py; spec A.2) and VPSNet's
// compute_flow (mmdet/models/detectors/panoptic_fuse.py; spec A.4); docs/flownet2.md.
// Children flownetc, flownets_1, flownets_2, flownets_d, flownetfusion: 220 tensors, 162,518,834
// parameters at full width, the keys of FlowNet2_checkpoint.pth.tar's state_dict. Frozen: built
// with requires_grad false on every parameter and in eval mode; forward runs without a graph. (Train
// mode would change nothing: there is no BatchNorm, and FlowNet2 reads only each sub-network's flow2.)
#pragma once
#include <memory>
#include <string>

#include "models/flownet2/flownet_parts.h"

namespace vps::models {

// The four intermediate flows of A.2 (steps 3, 6, 8, 9), upsampled to the input size, and the output.
struct FlowNet2Flows {
  Tensor c;      // FlowNetC x 20, bilinear x4
  Tensor s1;     // FlowNetS 1 x 20, bilinear x4
  Tensor s2;     // FlowNetS 2 x 20, nearest x4
  Tensor sd;     // FlowNetSD / 20 (sic, as the original), nearest x4
  Tensor fused;  // FlowNetFusion: (B, 2, H, W) in input pixels; frame0(p) ~ frame1(p + flow(p))
};

class FlowNet2 : public nn::Module {
 public:
  explicit FlowNet2(const FlowNetOptions& o = {});
  // inputs (B, 3, 2, H, W): RGB in 0..255, frame 0 then frame 1 on dim 2; H, W multiples of 64.
  // Normalised by the per-channel mean over both frames and by rgb_max 255.
  FlowNet2Flows forward_all(const Tensor& inputs) const;
  Tensor forward(const Tensor& inputs) const { return forward_all(inputs).fused; }
  std::string type_name() const override { return "FlowNet2"; }
  const FlowNetOptions& options() const { return opt_; }

  std::shared_ptr<FlowNetC> flownetc;
  std::shared_ptr<FlowNetS> flownets_1, flownets_2;
  std::shared_ptr<FlowNetSD> flownets_d;
  std::shared_ptr<FlowNetFusion> flownetfusion;

 private:
  FlowNetOptions opt_;
};

// compute_flow's input (A.4 steps 1-4): img and ref_img (B, 3, H, W) mmdetection-normalised RGB
// (mean 123.675, 116.28, 103.53, std 58.395, 57.12, 57.375) -> (B, 3, 2, H', W') RGB 0..255, frame 0 =
// img (the target), frame 1 = ref_img, zero-padded at the bottom/right to multiples of 64. (vps pads
// 800x1600 and 200x400 by hand to exactly these sizes and refuses other non-multiples; this pads any.)
Tensor flownet2_input(const Tensor& img, const Tensor& ref_img);

// VPSNet's compute_flow: FlowNet2 on flownet2_input(img, ref_img), trimmed to (H, W), bilinear x0.25
// (align_corners false) and the values x0.25: (B, 2, floor(H/4), floor(W/4)) in 1/4-resolution pixels,
// the forward flow of img: img(p) ~ ref_img(p + flow(p)). No graph is recorded.
Tensor compute_flow(const FlowNet2& net, const Tensor& img, const Tensor& ref_img);

}  // namespace vps::models
