// Mask R-CNN end to end: the full-size config has the checkpoint's names and shapes (docs/detection-
// heads.md); the tiny config trains through the trainer (train/trainer.h): on 4 synthetic images its
// losses fall steadily over a few hundred SGD steps and the boxes forward_test then predicts hit the
// objects.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdio>

#include <omp.h>

#include "layers/box_coder.h"
#include "models/detection/mask_rcnn.h"
#include "models/registry.h"
#include "train/trainer.h"
#include "ops/ops.h"
#include "tensor/device.h"
#include "tests/expect_error.h"
#include "tests/gradcheck.h"

using namespace vps;
using namespace vps::models;

namespace {

// The typed model (for losses() and detect()); the trainer takes it as a models::Model.
std::shared_ptr<MaskRCNN> build(const nlohmann::json& cfg) {
  return std::make_shared<MaskRCNN>(mask_rcnn_options_from_json(cfg));
}

struct Sample {
  Tensor img;
  GtInstances gt;
};

// A 64x96 image of noise with 1-3 objects: class 1 red rectangles, class 2 green ellipses, class 3 blue
// rectangles; GT boxes are the masks' inclusive pixel extents.
Sample make_sample(uint64_t seed) {
  const int64_t H = 64, W = 96;
  Generator gen(seed);
  std::vector<float> img = (rand({3, H, W}, gen) * 0.4 - 0.2).to_vector<float>();
  std::vector<double> r = rand({16}, gen, DType::f64).to_vector<double>();
  int64_t n = 1 + int64_t(r[0] * 3) % 3;
  std::vector<float> boxes;
  std::vector<int64_t> labels;
  std::vector<uint8_t> masks;
  const float colors[3][3] = {{1, -0.6f, -0.6f}, {-0.6f, 1, -0.6f}, {-0.6f, -0.6f, 1}};
  for (int64_t k = 0; k < n; ++k) {
    int64_t cls = 1 + (int64_t(seed) + k) % 3;
    int64_t w = 16 + int64_t(r[size_t(1 + 3 * k)] * 16), h = 14 + int64_t(r[size_t(2 + 3 * k)] * 14);
    int64_t x0 = k * 32 + int64_t(r[size_t(3 + 3 * k)] * double(32 - w / 2)), y0 = int64_t(r[size_t(10 + k)] * double(H - h));
    x0 = std::min(x0, W - w);
    std::vector<uint8_t> m(size_t(H * W), 0);
    int64_t x1 = W, y1 = H, x2 = -1, y2 = -1;
    for (int64_t y = y0; y < y0 + h; ++y)
      for (int64_t x = x0; x < x0 + w; ++x) {
        double u = (x - x0 + 0.5) / w * 2 - 1, v = (y - y0 + 0.5) / h * 2 - 1;
        if (cls == 2 && u * u + v * v > 1) continue;
        m[size_t(y * W + x)] = 1;
        for (int c = 0; c < 3; ++c) img[size_t((c * H + y) * W + x)] = colors[cls - 1][c];
        x1 = std::min(x1, x), y1 = std::min(y1, y), x2 = std::max(x2, x), y2 = std::max(y2, y);
      }
    boxes.insert(boxes.end(), {float(x1), float(y1), float(x2), float(y2)});
    labels.push_back(cls);
    masks.insert(masks.end(), m.begin(), m.end());
  }
  Sample s;
  s.img = Tensor::from_vector(img, {1, 3, H, W});
  s.gt.img_h = H, s.gt.img_w = W;
  s.gt.boxes = Tensor::from_vector(boxes, {n, 4});
  s.gt.labels = Tensor::from_vector(labels, {n});
  s.gt.masks = Tensor::from_vector(masks, {n, H, W});
  return s;
}

// One CPU thread for the duration of a test: the model is tiny (threads only add barrier overhead, which
// is severe on a loaded machine) and the trajectory no longer depends on the machine's core count.
struct SingleThread {
  int prev = omp_get_max_threads();
  SingleThread() {
    omp_set_num_threads(1);
  }
  ~SingleThread() {
    omp_set_num_threads(prev);
  }
};

const char* kTerms[] = {"loss_rpn_cls", "loss_rpn_bbox", "loss_cls", "loss_bbox", "loss_mask"};

}  // namespace

models::Batch batch_of(const Sample& s) {
  models::Batch b;
  b.frame.image = s.img;
  b.frame.gt = s.gt;
  return b;
}

TEST(DetMaskRCNN, FullConfigHasCheckpointNames) {
  std::shared_ptr<models::Model> m = models::build_model_from_file("configs/mask_rcnn_r50_fpn.json");
  EXPECT_EQ(m->type_name(), "MaskRCNN");
  std::map<std::string, Shape> shapes;
  for (auto& kv : m->state_dict()) shapes[kv.first] = kv.second.shape();
  std::vector<std::pair<std::string, Shape>> expect = {
      {"backbone.conv1.weight", {64, 3, 7, 7}},           {"backbone.layer4.2.bn3.running_var", {2048}},
      {"neck.lateral_convs.3.conv.weight", {256, 2048, 1, 1}}, {"neck.fpn_convs.0.conv.weight", {256, 256, 3, 3}},
      {"rpn_head.rpn_conv.weight", {256, 256, 3, 3}},     {"rpn_head.rpn_cls.weight", {3, 256, 1, 1}},
      {"rpn_head.rpn_reg.weight", {12, 256, 1, 1}},       {"bbox_head.shared_fcs.0.weight", {1024, 12544}},
      {"bbox_head.shared_fcs.1.weight", {1024, 1024}},    {"bbox_head.fc_cls.weight", {9, 1024}},
      {"bbox_head.fc_reg.weight", {36, 1024}},            {"mask_head.convs.3.conv.weight", {256, 256, 3, 3}},
      {"mask_head.upsample.weight", {256, 256, 2, 2}},    {"mask_head.conv_logits.weight", {9, 256, 1, 1}}};
  for (auto& [name, shape] : expect) {
    ASSERT_TRUE(shapes.count(name)) << name;
    EXPECT_EQ(shapes[name], shape) << name;
  }
  vps::testing::expect_error([] { build(nlohmann::json::parse(R"({"type": "MaskRCNN", "rpn_head": {"scales": [8]}})")); },
                             {"rpn_head", "scales"});
}

TEST(DetMaskRCNN, ForwardTrainKeysAndGradients) {
  auto m = build(models::load_config("configs/mask_rcnn_tiny.json"));
  Sample s = make_sample(1);
  Generator gen(0);
  auto losses = m->losses(s.img, s.gt, gen);
  for (const char* k : kTerms) {
    ASSERT_TRUE(losses.count(k)) << k;
    EXPECT_TRUE(std::isfinite(losses[k].item_double())) << k;
    EXPECT_TRUE(losses[k].requires_grad()) << k;
  }
  EXPECT_FALSE(losses["acc"].requires_grad());
  EXPECT_GT(losses["num_pos_rcnn"].item_double(), 0);  // at least the GT boxes themselves
  Model::total_loss(losses).backward();
  for (const char* p : {"rpn_head.rpn_cls.weight", "bbox_head.fc_cls.weight", "bbox_head.fc_reg.weight",
                        "mask_head.conv_logits.weight", "backbone.conv1.weight", "neck.fpn_convs.0.conv.weight"}) {
    Tensor g;
    for (auto& kv : m->named_parameters())
      if (kv.first == p) g = kv.second.grad();
    ASSERT_TRUE(g.defined()) << p;
    EXPECT_GT(sum(abs(g)).item_double(), 0) << p;
  }
  MaskRCNNOutput o = m->detect(s.img, 64, 96);
  EXPECT_EQ(o.masks.dim(), 3);
  EXPECT_EQ(o.boxes.size(0), o.masks.size(0));
  // The Model interface gives the same losses (same sampling stream) and the same detections.
  Generator g1(7), g2(7);
  auto direct = m->losses(s.img, s.gt, g1), through = m->forward_train(batch_of(s), g2);
  for (const char* k : kTerms) EXPECT_EQ(direct[k].item_double(), through[k].item_double()) << k;
  models::Frame fr;
  fr.image = s.img;
  OutputMap out = m->forward_test(fr);
  EXPECT_EQ(out.at("boxes").to_vector<float>(), o.boxes.to_vector<float>());
  EXPECT_EQ(out.at("masks").shape(), o.masks.shape());

  // An image without objects: only negatives, a zero mask loss, backward still runs.
  GtInstances none;
  none.boxes = Tensor::zeros({0, 4});
  none.labels = Tensor::zeros({0}, DType::i64);
  none.masks = Tensor::zeros({0, 64, 96}, DType::u8);
  auto empty = m->losses(s.img, none, gen);
  EXPECT_EQ(empty["loss_mask"].item_double(), 0.0);
  EXPECT_EQ(empty["num_pos_rcnn"].item_double(), 0.0);
  EXPECT_EQ(empty["loss_rpn_bbox"].item_double(), 0.0);
  EXPECT_GT(empty["loss_cls"].item_double(), 0.0);
  Model::total_loss(empty).backward();
  vps::testing::expect_error([&] { m->losses(Tensor::zeros({2, 3, 64, 96}), s.gt, gen); },
                             {"MaskRCNN", "[2, 3, 64, 96]"});
}

TEST(DetMaskRCNN, OverfitsSyntheticImages) {
  SingleThread one;
  auto t0 = std::chrono::steady_clock::now();
  std::shared_ptr<models::Model> m = models::build_model_from_file("configs/mask_rcnn_tiny.json");
  std::vector<Sample> data;
  for (uint64_t i = 0; i < 4; ++i) data.push_back(make_sample(10 + i));
  const int steps = 300, window = 20;
  train::TrainerOptions to;
  to.sgd = {0.02, 0.9, 0, 1e-4, false};
  to.schedule.base_lr = 0.02;  // linear warmup from 0.3 x over 50 steps, then constant
  to.schedule.warmup_iters = 50;
  to.schedule.warmup_ratio = 0.3;
  to.clip_grad_norm = 35.0;
  to.max_iters = steps;
  to.seed = 1;
  train::Trainer trainer(m, to);
  std::vector<double> total;
  std::map<std::string, std::vector<double>> terms;
  trainer.run([&](int64_t it) { return batch_of(data[size_t(it) % data.size()]); },
              [&](const train::StepRecord& r) {
                total.push_back(r.total_loss);
                for (const char* k : kTerms) terms[k].push_back(r.values.at(k));
              });
  ASSERT_EQ(total.size(), size_t(steps));
  auto mean = [&](const std::vector<double>& v, size_t from) {
    double a = 0;
    for (size_t i = from; i < from + window; ++i) a += v[i];
    return a / window;
  };
  double first = mean(total, 0), last = mean(total, total.size() - window);
  std::printf("[overfit] total loss: first %d steps %.4f, last %d %.4f\n", window, first, window, last);
  EXPECT_LT(last, 0.3 * first);
  for (const char* k : kTerms) {
    double a = mean(terms[k], 0), b = mean(terms[k], terms[k].size() - window);
    std::printf("[overfit] %-14s %.4f -> %.4f\n", k, a, b);
    EXPECT_LT(b, a) << k;
  }
  // Steady fall: each block of 60 steps ends lower than the previous one.
  for (size_t b = 60; b + window <= total.size(); b += 60) EXPECT_LT(mean(total, b), mean(total, b - 60) * 1.05) << b;

  int hit = 0, gts = 0;
  for (const Sample& s : data) {
    OutputMap o = m->forward_test(batch_of(s).frame);
    const Tensor& boxes = o.at("boxes");
    int64_t g = s.gt.boxes.size(0), n = boxes.size(0);
    gts += int(g);
    if (n == 0) continue;
    std::vector<float> iou = box_iou(s.gt.boxes, boxes).to_vector<float>();
    std::vector<int64_t> lab = o.at("labels").to_vector<int64_t>(), gl = s.gt.labels.to_vector<int64_t>();
    for (int64_t i = 0; i < g; ++i) {
      bool ok = false;
      for (int64_t j = 0; j < n; ++j)
        ok = ok || (iou[size_t(i * n + j)] > 0.5f && lab[size_t(j)] == gl[size_t(i)]);
      hit += ok;
    }
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("[overfit] %d of %d GT objects hit (IoU > 0.5, right class); %d steps in %.1f s\n", hit, gts, steps, secs);
  EXPECT_GE(hit * 4, gts * 3);  // most of them
}

TEST(DetMaskRCNN, CudaParity) {
  VPS_REQUIRE_CUDA();
  // Same weights, same image, same sampling stream: the losses and the gradient of a few parameters agree.
  auto cpu = build(models::load_config("configs/mask_rcnn_tiny.json"));
  auto gpu = build(models::load_config("configs/mask_rcnn_tiny.json"));
  gpu->to(cuda_device(0));
  Sample s = make_sample(2);
  GtInstances gt_gpu = s.gt;
  gt_gpu.boxes = s.gt.boxes.to(cuda_device(0));
  gt_gpu.labels = s.gt.labels.to(cuda_device(0));
  Generator g1(4), g2(4);
  auto a = cpu->losses(s.img, s.gt, g1);
  auto b = gpu->losses(s.img.to(cuda_device(0)), gt_gpu, g2);
  for (const char* k : kTerms) EXPECT_NEAR(a[k].item_double(), b[k].item_double(), 1e-4 + 1e-3 * std::fabs(a[k].item_double())) << k;
  Model::total_loss(a).backward();
  Model::total_loss(b).backward();
  auto pa = cpu->named_parameters(), pb = gpu->named_parameters();
  for (size_t i = 0; i < pa.size(); ++i) {
    if (!pa[i].second.grad().defined()) continue;
    EXPECT_ALLCLOSE(pb[i].second.grad().cpu(), pa[i].second.grad(), 1e-4, 1e-2);
  }
  MaskRCNNOutput oa = cpu->detect(s.img, 64, 96), ob = gpu->detect(s.img.to(cuda_device(0)), 64, 96);
  EXPECT_EQ(oa.boxes.size(0), ob.boxes.size(0));
}
