// VPSNetTrack from a JSON config (configs/vpsnet_track_r50.json, configs/vpsnet_track_tiny.json) and its
// registration as model type "VPSNetTrack": Mask R-CNN's sections plus panopticFPN, track_head, panoptic.
#include "models/registry.h"
#include "models/vps/vpsnet_track.h"
#include "tensor/check.h"

namespace vps::models {

namespace {

// The "siamtrack" section (docs/siamtrack.md): its presence turns SiamTrack's losses on.
SiamTrackOptions siamtrack_options_from_json(const nlohmann::json& j, int64_t fpn_out, uint64_t seed) {
  const char* w = "siamtrack";
  VPS_CHECK(j.is_object(), "config siamtrack: must be an object");
  cfg::check_keys(j, {"projection", "lambda_segment", "lambda_pixel", "temperature", "occlusion_alpha", "contra_sem",
                      "contra_inst", "warp", "tube", "base_losses_both_frames", "save_projection_head"}, w);
  SiamTrackOptions o;
  o.enabled = true;
  o.lambda_segment = cfg::get_double(j, "lambda_segment", o.lambda_segment, w);
  o.lambda_pixel = cfg::get_double(j, "lambda_pixel", o.lambda_pixel, w);
  o.temperature = cfg::get_double(j, "temperature", o.temperature, w);
  VPS_CHECK(o.temperature > 0, "config siamtrack.temperature must be > 0, got ", o.temperature);
  o.contra_sem = cfg::get_bool(j, "contra_sem", o.contra_sem, w);
  o.contra_inst = cfg::get_bool(j, "contra_inst", o.contra_inst, w);
  o.occlusion_alpha = cfg::get_double(j, "occlusion_alpha", o.occlusion_alpha, w);
  o.warp = cfg::get_bool(j, "warp", o.warp, w);
  o.tube = cfg::get_bool(j, "tube", o.tube, w);
  o.base_losses_both_frames = cfg::get_bool(j, "base_losses_both_frames", o.base_losses_both_frames, w);
  o.save_projection_head = cfg::get_bool(j, "save_projection_head", o.save_projection_head, w);
  nlohmann::json p = j.value("projection", nlohmann::json::object());
  const char* pw = "siamtrack.projection";
  cfg::check_keys(p, {"in_channels", "hidden_channels", "out_channels", "num_levels"}, pw);
  o.projection.in_channels = cfg::get_int(p, "in_channels", fpn_out, pw);
  o.projection.hidden_channels = cfg::get_int(p, "hidden_channels", fpn_out, pw);
  o.projection.out_channels = cfg::get_int(p, "out_channels", o.projection.out_channels, pw);
  o.projection.num_levels = cfg::get_int(p, "num_levels", o.projection.num_levels, pw);
  VPS_CHECK(o.projection.num_levels == 4 || o.projection.num_levels == 5,
            "config siamtrack.projection.num_levels must be 4 (P2..P5) or 5 (P2..P6), got ", o.projection.num_levels);
  o.projection.seed = seed;
  return o;
}

}  // namespace

VPSNetTrackOptions vpsnet_track_options_from_json(const nlohmann::json& c) {
  cfg::check_keys(c, {"type", "dtype", "seed", "backbone", "neck", "rpn_head", "bbox_head", "mask_head", "train_cfg",
                      "test_cfg", "panopticFPN", "track_head", "panoptic", "siamtrack"}, "VPSNetTrack");
  nlohmann::json det = c;
  for (const char* k : {"panopticFPN", "track_head", "panoptic", "siamtrack"}) det.erase(k);
  det["type"] = "MaskRCNN";
  VPSNetTrackOptions o;
  o.det = mask_rcnn_options_from_json(det);
  const int64_t fpn_out = o.det.neck.out_channels;
  const uint64_t seed = o.det.seed;

  nlohmann::json s = c.value("panopticFPN", nlohmann::json::object());
  cfg::check_keys(s, {"type", "in_channels", "out_channels", "num_levels", "num_classes", "gn_groups", "ignore_label"},
                  "panopticFPN");
  o.semantic.in_channels = cfg::get_int(s, "in_channels", fpn_out, "panopticFPN");
  o.semantic.out_channels = cfg::get_int(s, "out_channels", o.semantic.out_channels, "panopticFPN");
  o.semantic.num_levels = cfg::get_int(s, "num_levels", o.semantic.num_levels, "panopticFPN");
  o.semantic.num_classes = cfg::get_int(s, "num_classes", o.semantic.num_classes, "panopticFPN");
  o.semantic.gn_groups = cfg::get_int(s, "gn_groups", o.semantic.gn_groups, "panopticFPN");
  o.semantic.ignore_label = cfg::get_int(s, "ignore_label", o.semantic.ignore_label, "panopticFPN");
  o.semantic.seed = seed + 1;

  nlohmann::json t = c.value("track_head", nlohmann::json::object());
  cfg::check_keys(t, {"type", "in_channels", "roi_feat_size", "fc_out_channels", "num_fcs", "match_coeff", "loss_weight",
                      "match", "temperature"},
                  "track_head");
  o.track.in_channels = cfg::get_int(t, "in_channels", fpn_out, "track_head");
  o.track.roi_feat_size = cfg::get_int(t, "roi_feat_size", o.track.roi_feat_size, "track_head");
  o.track.fc_out_channels = cfg::get_int(t, "fc_out_channels", o.track.fc_out_channels, "track_head");
  o.track.num_fcs = cfg::get_int(t, "num_fcs", o.track.num_fcs, "track_head");
  o.track.match_coeff = cfg::get_doubles(t, "match_coeff", o.track.match_coeff, "track_head");
  o.track.loss_weight = cfg::get_double(t, "loss_weight", o.track.loss_weight, "track_head");
  o.track.match = cfg::get_string(t, "match", o.track.match, "track_head");
  o.track.temperature = cfg::get_double(t, "temperature", o.track.temperature, "track_head");
  o.track.seed = seed + 2;

  nlohmann::json p = c.value("panoptic", nlohmann::json::object());
  cfg::check_keys(p, {"num_stuff", "class_mapping", "fraction_threshold", "loss_weight"}, "panoptic");
  o.panoptic.num_stuff = cfg::get_int(p, "num_stuff", o.panoptic.num_stuff, "panoptic");
  o.panoptic.class_mapping = cfg::get_ints(p, "class_mapping", o.panoptic.class_mapping, "panoptic");
  o.panoptic.fraction_threshold = cfg::get_double(p, "fraction_threshold", o.panoptic.fraction_threshold, "panoptic");
  o.panoptic.loss_weight = cfg::get_double(p, "loss_weight", o.panoptic.loss_weight, "panoptic");
  VPS_CHECK(int64_t(o.panoptic.class_mapping.size()) == o.det.bbox_head.num_classes - 1,
            "config panoptic.class_mapping: ", o.panoptic.class_mapping.size(), " entries for ",
            o.det.bbox_head.num_classes - 1, " thing classes");
  if (c.contains("siamtrack")) o.siamtrack = siamtrack_options_from_json(c["siamtrack"], fpn_out, seed + 3);
  return o;
}

VPS_REGISTER_MODEL("VPSNetTrack", [](const nlohmann::json& c) -> std::shared_ptr<Model> {
  return std::make_shared<VPSNetTrack>(vpsnet_track_options_from_json(c));
});

}  // namespace vps::models
