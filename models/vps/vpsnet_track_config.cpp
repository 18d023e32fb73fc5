// VPSNetTrack from a JSON config (configs/vpsnet_track_r50.json, configs/vpsnet_track_tiny.json) and its
// registration as model type "VPSNetTrack": Mask R-CNN's sections plus panopticFPN, track_head, panoptic.
#include "models/config_reader.h"
#include "models/registry.h"
#include "models/vps/vpsnet_track.h"
#include "tensor/check.h"

namespace vps::models {

namespace {

// The "siamtrack" section (docs/siamtrack.md): its presence turns SiamTrack's losses on.
SiamTrackOptions siamtrack_options(cfg::Reader& r, int64_t fpn_out, uint64_t seed) {
  SiamTrackOptions o;
  o.enabled = true;
  o.lambda_segment = r.get_double("lambda_segment", o.lambda_segment);
  o.lambda_pixel = r.get_double("lambda_pixel", o.lambda_pixel);
  o.temperature = r.get_double("temperature", o.temperature);
  VPS_CHECK(o.temperature > 0, "config siamtrack.temperature must be > 0, got ", o.temperature);
  o.contra_sem = r.get_bool("contra_sem", o.contra_sem);
  o.contra_inst = r.get_bool("contra_inst", o.contra_inst);
  o.occlusion_alpha = r.get_double("occlusion_alpha", o.occlusion_alpha);
  o.warp = r.get_bool("warp", o.warp);
  o.tube = r.get_bool("tube", o.tube);
  o.base_losses_both_frames = r.get_bool("base_losses_both_frames", o.base_losses_both_frames);
  o.save_projection_head = r.get_bool("save_projection_head", o.save_projection_head);
  cfg::Reader p = r.section("projection");
  o.projection.in_channels = p.get_int("in_channels", fpn_out);
  o.projection.hidden_channels = p.get_int("hidden_channels", fpn_out);
  o.projection.out_channels = p.get_int("out_channels", o.projection.out_channels);
  o.projection.num_levels = p.get_int("num_levels", o.projection.num_levels);
  VPS_CHECK(o.projection.num_levels == 4 || o.projection.num_levels == 5,
            "config siamtrack.projection.num_levels must be 4 (P2..P5) or 5 (P2..P6), got ", o.projection.num_levels);
  o.projection.seed = seed;
  return o;
}

VPSNetTrackOptions vpsnet_track_options(cfg::Reader& r) {
  VPSNetTrackOptions o;
  o.det = mask_rcnn_options(r);  // Mask R-CNN's sections, read from the same config
  const int64_t fpn_out = o.det.neck.out_channels;
  const uint64_t seed = o.det.seed;

  cfg::Reader s = r.section("panopticFPN");
  s.accept({"type"});  // informational, as in the heads of Mask R-CNN
  o.semantic.in_channels = s.get_int("in_channels", fpn_out);
  o.semantic.out_channels = s.get_int("out_channels", o.semantic.out_channels);
  o.semantic.num_levels = s.get_int("num_levels", o.semantic.num_levels);
  o.semantic.num_classes = s.get_int("num_classes", o.semantic.num_classes);
  o.semantic.gn_groups = s.get_int("gn_groups", o.semantic.gn_groups);
  o.semantic.ignore_label = s.get_int("ignore_label", o.semantic.ignore_label);
  o.semantic.seed = seed + 1;

  cfg::Reader t = r.section("track_head");
  t.accept({"type"});
  o.track.in_channels = t.get_int("in_channels", fpn_out);
  o.track.roi_feat_size = t.get_int("roi_feat_size", o.track.roi_feat_size);
  o.track.fc_out_channels = t.get_int("fc_out_channels", o.track.fc_out_channels);
  o.track.num_fcs = t.get_int("num_fcs", o.track.num_fcs);
  o.track.match_coeff = t.get_doubles("match_coeff", o.track.match_coeff);
  o.track.duplicate_iou = t.get_double("duplicate_iou", o.track.duplicate_iou);
  o.track.loss_weight = t.get_double("loss_weight", o.track.loss_weight);
  o.track.match = t.get_string("match", o.track.match);
  o.track.temperature = t.get_double("temperature", o.track.temperature);
  o.track.seed = seed + 2;

  cfg::Reader p = r.section("panoptic");
  o.panoptic.num_stuff = p.get_int("num_stuff", o.panoptic.num_stuff);
  o.panoptic.class_mapping = p.get_ints("class_mapping", o.panoptic.class_mapping);
  o.panoptic.fraction_threshold = p.get_double("fraction_threshold", o.panoptic.fraction_threshold);
  o.panoptic.loss_weight = p.get_double("loss_weight", o.panoptic.loss_weight);
  VPS_CHECK(int64_t(o.panoptic.class_mapping.size()) == o.det.bbox_head.num_classes - 1,
            "config panoptic.class_mapping: ", o.panoptic.class_mapping.size(), " entries for ",
            o.det.bbox_head.num_classes - 1, " thing classes");
  if (r.has("siamtrack")) {
    cfg::Reader st = r.section("siamtrack");
    o.siamtrack = siamtrack_options(st, fpn_out, seed + 3);
  }
  return o;
}

}  // namespace

VPSNetTrackOptions vpsnet_track_options_from_json(const nlohmann::json& c) {
  return cfg::read_all(c, "VPSNetTrack", vpsnet_track_options);
}

VPS_REGISTER_MODEL("VPSNetTrack", [](const nlohmann::json& c) -> std::shared_ptr<Model> {
  return std::make_shared<VPSNetTrack>(vpsnet_track_options_from_json(c));
});

}  // namespace vps::models
