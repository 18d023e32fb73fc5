// Mask R-CNN training step (bench/bench_mask_rcnn.sh compares it with torchvision's maskrcnn_resnet50_fpn):
//   vps_bench mask_rcnn_train H W   forward_train + backward of configs/mask_rcnn_r50_fpn.json (ResNet-50-FPN,
//                                    9 classes, random init), batch 1, an HxW image with 5 GT objects.
// Both sides: image N(0,1) (different streams), the same 5 boxes/masks, stem + layer1 frozen, BN frozen.
#include <string>
#include <vector>

#include "bench/bench_registry.h"
#include "models/detection/mask_rcnn.h"
#include "models/registry.h"
#include "ops/ops.h"

namespace {

using namespace vps;
using namespace vps::models;

// The 5 GT objects of bench/mask_rcnn_torch.py: boxes as fractions of the image, labels 1..5.
GtInstances bench_gt(int64_t h, int64_t w) {
  const double frac[5][4] = {{0.05, 0.1, 0.3, 0.5}, {0.4, 0.2, 0.55, 0.9}, {0.6, 0.05, 0.95, 0.35},
                             {0.1, 0.6, 0.35, 0.95}, {0.7, 0.5, 0.9, 0.8}};
  std::vector<float> boxes;
  std::vector<int64_t> labels;
  std::vector<uint8_t> masks(size_t(5 * h * w), 0);
  for (int k = 0; k < 5; ++k) {
    int64_t x1 = int64_t(frac[k][0] * double(w)), y1 = int64_t(frac[k][1] * double(h));
    int64_t x2 = int64_t(frac[k][2] * double(w)), y2 = int64_t(frac[k][3] * double(h));
    boxes.insert(boxes.end(), {float(x1), float(y1), float(x2), float(y2)});
    labels.push_back(k + 1);
    for (int64_t y = y1; y <= y2; ++y)
      for (int64_t x = x1; x <= x2; ++x) masks[size_t((k * h + y) * w + x)] = 1;
  }
  GtInstances gt;
  gt.boxes = Tensor::from_vector(boxes, {5, 4});
  gt.labels = Tensor::from_vector(labels, {5});
  gt.masks = Tensor::from_vector(masks, {5, h, w});
  return gt;
}

void bench_train(const std::vector<std::string>& args) {
  int64_t h = args.size() > 0 ? std::stoll(args[0]) : 256, w = args.size() > 1 ? std::stoll(args[1]) : 512;
  std::shared_ptr<models::Model> model = models::build_model_from_file("configs/mask_rcnn_r50_fpn.json");
  models::Batch batch;
  Generator gen(3);
  Tensor img = randn({1, 3, h, w}, gen);
  batch.frame.image = img;
  batch.frame.gt = bench_gt(h, w);
  double ms = bench::time_ms([&] {
    model->zero_grad();
    models::Model::total_loss(model->forward_train(batch, gen)).backward();
  }, 3, 1);
  bench::report("mask_rcnn_train", ms, std::to_string(h) + "x" + std::to_string(w));
}

VPS_BENCH("mask_rcnn_train", bench_train);

}  // namespace
