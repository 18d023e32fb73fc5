// VPSNet-Track's training and test passes (PanopticTrack.forward_train / simple_test).
#include "models/vps/vpsnet_track.h"

#include <algorithm>

#include "autograd/grad_mode.h"
#include "models/detection/roi_extractor.h"
#include "ops/ops.h"
#include "tensor/check.h"

namespace vps::models {

namespace {


// (h, w) integer map padded with `value` to (H, W) at the bottom/right, as the image was.
Tensor pad_map(const Tensor& m, int64_t H, int64_t W, double value, const char* what) {
  int64_t d = m.dim();
  VPS_CHECK(d >= 2 && m.size(d - 2) <= H && m.size(d - 1) <= W, "VPSNetTrack: ", what, " ", shape_str(m.shape()),
            " is larger than the padded image ", H, "x", W);
  return pad(m.to(DType::f32), {0, W - m.size(d - 1), 0, H - m.size(d - 2)}, value);
}

// Every 4th row and column from 0 (the GT at the semantic head's 1/4 resolution, [::4, ::4]).
Tensor every4(const Tensor& m) {
  int64_t d = m.dim();
  return contiguous(slice(slice(m, d - 2, 0, m.size(d - 2), 4), d - 1, 0, m.size(d - 1), 4));
}

}  // namespace

VPSNetTrack::VPSNetTrack(const VPSNetTrackOptions& o) : MaskRCNN(o.det), panoptic_head(o.panoptic), topt_(o) {
  SemanticHeadOptions so = o.semantic;
  so.dtype = o.det.neck.dtype;
  panopticFPN = register_module("panopticFPN", std::make_shared<SemanticHead>(so));
  track_head = register_module("track_head", std::make_shared<TrackHead>(o.track));
  VPS_CHECK(o.semantic.in_channels == o.det.neck.out_channels && o.track.in_channels == o.det.neck.out_channels,
            "VPSNetTrack: panopticFPN.in_channels (", o.semantic.in_channels, ") and track_head.in_channels (",
            o.track.in_channels, ") must equal the FPN's out_channels (", o.det.neck.out_channels, ")");
  if (o.siamtrack.segment_losses()) {
    ProjectionHeadOptions po = o.siamtrack.projection;
    po.dtype = o.det.neck.dtype;
    VPS_CHECK(po.in_channels == o.det.neck.out_channels && po.num_levels <= o.det.neck.num_outs,
              "VPSNetTrack: siamtrack.projection in_channels (", po.in_channels, ") must equal the FPN's out_channels (",
              o.det.neck.out_channels, ") and num_levels (", po.num_levels, ") be at most its ", o.det.neck.num_outs,
              " levels");
    projection_head = register_module("projection_head", std::make_shared<ProjectionHead>(po));
  }
}

std::vector<std::string> VPSNetTrack::training_only_prefixes() const {
  if (projection_head && !topt_.siamtrack.save_projection_head) return {"projection_head."};
  return {};
}

VPSNetTrack::PanopticPass VPSNetTrack::panoptic_pass(const std::vector<Tensor>& feats, const Frame& f,
                                                     const GtInstances& gt) {
  const int64_t Hp = f.image.size(2), Wp = f.image.size(3);
  PanopticPass p;
  p.sem = panopticFPN->forward(feats);
  p.semantic = pad_map(f.semantic, Hp, Wp, 255, "semantic GT");
  // Panoptic head at 1/4 resolution with the GT boxes and the mask head's logits of them.
  Tensor gt_boxes = gt.boxes.to(DType::f32);
  Tensor mask_logits = own_class_mask_logits(feats, gt_boxes.to(feats[0].dtype()), gt.labels);
  p.logits = panoptic_head.train_logits(p.sem.fcn_score, gt_boxes, gt.labels, mask_logits);
  p.masks = pad_map(gt.masks, Hp, Wp, 0, "GT masks");
  p.target = panoptic_head.mask_matching(every4(p.semantic).to(DType::i64), every4(p.masks).to(DType::u8));
  VPS_CHECK(p.target.size(0) == p.logits.size(2) && p.target.size(1) == p.logits.size(3),
            "VPSNetTrack::forward_train: the GT at 1/4 (", shape_str(p.target.shape()),
            ") does not match the semantic scores ", shape_str(p.logits.shape()),
            " (the padded image must be a multiple of 32)");
  return p;
}

VPSNetTrack::PanopticPass VPSNetTrack::add_base_losses(LossMap& out, const MaskRCNNTrainPass& pass, const Frame& f,
                                                       const GtInstances& gt, const std::vector<Tensor>& other_feats,
                                                       const GtInstances& other_gt) {
  // Track head: the sampled RoIs of this frame against the other frame's GT boxes on its own FPN.
  const RCNNTargets& t = pass.targets;
  const int64_t s = topt_.track.roi_feat_size;
  Tensor x = extract_roi_features(pass.feats, t.rois, s);
  Tensor ref_x = extract_roi_features(other_feats, rois_from_boxes(other_gt.boxes.to(t.rois.dtype())), s);
  std::vector<int64_t> ids_now = gt.track_ids.to(DType::i64).to_vector<int64_t>();
  std::vector<int64_t> ids_ref = other_gt.track_ids.to(DType::i64).to_vector<int64_t>();
  std::vector<int64_t> gt_pid(ids_now.size(), 0);  // index in the other frame's GT + 1, 0: not there
  for (size_t g = 0; g < ids_now.size(); ++g) {
    auto it = std::find(ids_ref.begin(), ids_ref.end(), ids_now[g]);
    if (it != ids_ref.end()) gt_pid[g] = int64_t(it - ids_ref.begin()) + 1;
  }
  const int64_t K = t.rois.size(0);
  std::vector<int64_t> pid(size_t(K), 0), assigned = t.pos_assigned_gt_inds.to(DType::i64).to_vector<int64_t>();
  std::vector<double> w(size_t(K), 0.0);
  for (int64_t i = 0; i < t.num_pos; ++i) pid[size_t(i)] = gt_pid[size_t(assigned[size_t(i)])], w[size_t(i)] = 1.0;
  Tensor match = track_head->match_score(x, ref_x);
  out["loss_match"] = track_head->loss(match, Tensor::from_vector<int64_t>(pid, {K}),
                                       Tensor::from_vector<double>(w, {K}).to(match.dtype()));

  PanopticPass p = panoptic_pass(pass.feats, f, gt);
  const int64_t Hp = f.image.size(2), Wp = f.image.size(3);
  out["loss_segm"] = panopticFPN->loss(p.sem, reshape(p.semantic, {1, Hp, Wp}).to(DType::i64));  // full resolution
  out["loss_pano"] = panoptic_head.loss(p.logits, p.target);
  return p;
}

SiamTrackFrame VPSNetTrack::siamtrack_frame(const Tensor& image, const PanopticPass& p, const GtInstances& gt,
                                            const std::vector<Tensor>& feats) const {
  SiamTrackFrame s;
  s.image = image;
  s.semantic = every4(p.semantic).to(DType::i64);
  s.masks = every4(p.masks).to(DType::u8);
  s.track_ids = gt.track_ids.to(DType::i64).to_vector<int64_t>();
  if (projection_head) s.embedding = projection_head->forward(feats);
  s.pano_logits = p.logits;
  s.pano_target = p.target;
  return s;
}

LossMap VPSNetTrack::forward_train(const Batch& batch, Generator& gen) {
  const char* op = "VPSNetTrack::forward_train";
  const SiamTrackOptions& so = topt_.siamtrack;
  const Frame& f = batch.frame;
  VPS_CHECK(batch.reference.has_value(), op, ": needs a reference frame of the same video (a pair)");
  const Frame& ref = *batch.reference;
  auto sized_gt = [](const Frame& fr) {
    GtInstances g = fr.gt;
    if (g.img_h < 0) g.img_h = fr.img_h, g.img_w = fr.img_w;
    return g;
  };
  GtInstances gt = sized_gt(f), ref_gt = sized_gt(ref);
  VPS_CHECK(gt.track_ids.defined() && gt.track_ids.numel() == gt.boxes.size(0), op, ": the frame's GT needs one track id per box");
  VPS_CHECK(ref_gt.boxes.defined() && ref_gt.track_ids.defined() && ref_gt.track_ids.numel() == ref_gt.boxes.size(0), op,
            ": the reference frame needs GT boxes and their track ids");
  VPS_CHECK(f.semantic.defined() && f.semantic.dim() == 2, op, ": the frame needs its semantic GT (H, W)");
  VPS_CHECK(!so.enabled || (ref.semantic.defined() && ref.semantic.dim() == 2 && ref_gt.labels.defined() &&
                            ref_gt.masks.defined()),
            op, ": SiamTrack's losses need the reference frame's semantic GT (H, W), GT labels and masks");
  const bool both = so.enabled && so.base_losses_both_frames;

  MaskRCNNTrainPass pass = train_pass(f.image, gt, gen), ref_pass;
  if (both) ref_pass = train_pass(ref.image, ref_gt, gen);
  else ref_pass.feats = extract_feats(ref.image);
  LossMap out = std::move(pass.losses);
  PanopticPass pano = add_base_losses(out, pass, f, gt, ref_pass.feats, ref_gt);
  if (!so.enabled) return out;

  PanopticPass ref_pano;
  if (both) {
    LossMap ref_out = std::move(ref_pass.losses);
    ref_pano = add_base_losses(ref_out, ref_pass, ref, ref_gt, pass.feats, gt);
    for (auto& [k, v] : ref_out) out[k + "_ref"] = v;
  } else {
    ref_pano = panoptic_pass(ref_pass.feats, ref, ref_gt);
  }
  add_siamtrack_losses(out, so, panoptic_head.options().num_stuff, topt_.semantic.num_classes,
                       siamtrack_frame(f.image, pano, gt, pass.feats),
                       siamtrack_frame(ref.image, ref_pano, ref_gt, ref_pass.feats), batch.flow, batch.flow_valid);
  return out;
}

VPSNetFrameOutputs VPSNetTrack::infer_frame(const Frame& frame) {
  autograd::NoGradGuard ng;
  int64_t h = frame.img_h >= 0 ? frame.img_h : frame.image.size(2), w = frame.img_w >= 0 ? frame.img_w : frame.image.size(3);
  VPSNetFrameOutputs o;
  o.det = test_pass(frame.image, h, w);
  if (o.det.boxes.size(0) == 0) {  // MaskROI's dummy detection
    Device d = frame.image.device();
    DType dt = o.det.feats[0].dtype();
    int64_t ms = o.det.mask_logits.size(1);
    o.det.boxes = Tensor::zeros({1, 4}, o.det.boxes.dtype(), d);
    o.det.scores = Tensor::ones({1}, o.det.scores.dtype(), d);
    o.det.labels = Tensor::zeros({1}, DType::i64, d);
    o.det.mask_logits = Tensor::zeros({1, ms, ms}, dt, d);
  }
  o.roi_feats = extract_roi_features(o.det.feats, rois_from_boxes(o.det.boxes.to(o.det.feats[0].dtype())),
                                     topt_.track.roi_feat_size);
  o.fcn_output = panopticFPN->forward(o.det.feats).fcn_output;
  return o;
}

OutputMap VPSNetTrack::compose(const VPSNetFrameOutputs& f, const std::vector<int64_t>& object_ids, int64_t img_h,
                               int64_t img_w) {
  autograd::NoGradGuard ng;
  const int64_t n = f.det.boxes.size(0), Hp = f.fcn_output.size(2), Wp = f.fcn_output.size(3);
  VPS_CHECK(int64_t(object_ids.size()) == n, "VPSNetTrack::compose: ", object_ids.size(), " object ids for ", n,
            " detections");
  MaskRemovalOutput r =
      panoptic_head.mask_removal(f.det.boxes, f.det.scores, f.det.mask_logits, f.det.labels, Hp, Wp, /*dense_energy=*/false);
  Tensor keep = Tensor::from_vector<int64_t>(r.keep, {int64_t(r.keep.size())});
  Tensor boxes = index_select(f.det.boxes, 0, keep), labels = index_select(f.det.labels, 0, keep);
  Tensor logits = panoptic_head.test_logits(f.fcn_output, boxes, labels, r);
  std::vector<int64_t> kept_ids;
  for (int64_t k : r.keep) kept_ids.push_back(object_ids[size_t(k)]);
  OutputMap out;
  out["panoptic"] = PanopticHead::argmax_of_softmax(logits, img_h, img_w);
  out["semantic"] = PanopticHead::argmax_of_softmax(f.fcn_output, img_h, img_w);
  out["boxes"] = boxes;
  out["scores"] = index_select(f.det.scores, 0, keep);
  out["labels"] = labels;
  out["track_ids"] = Tensor::from_vector<int64_t>(kept_ids, {int64_t(kept_ids.size())});
  out["fcn_output"] = f.fcn_output;
  out["panoptic_logits"] = logits;
  return out;
}

OutputMap VPSNetTrack::forward_test(const Frame& frame) {
  VPSNetFrameOutputs f = infer_frame(frame);
  std::vector<int64_t> ids(size_t(f.det.boxes.size(0)));
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = int64_t(i);
  int64_t h = frame.img_h >= 0 ? frame.img_h : frame.image.size(2), w = frame.img_w >= 0 ? frame.img_w : frame.image.size(3);
  return compose(f, ids, h, w);
}

}  // namespace vps::models
