#include "infer/video_runner.h"

#include <map>

#include "data/cityscapes_vps.h"
#include "data/fs_util.h"
#include "data/image_io.h"
#include "infer/pan_export.h"
#include "infer/tracker.h"
#include "models/weights_io.h"
#include "tensor/check.h"

namespace vps::infer {

namespace {

// The frame key shared by img_all names (<city>_<seq>_<frame>_leftImg8bit.png) and labelled image
// names (<video>_<index>_<city>_<seq>_<frame>_newImg8bit.png): "<city>_<seq>_<frame>".
std::string frame_key(std::string name, bool labelled) {
  for (const char* suffix : {"_leftImg8bit.png", "_newImg8bit.png"}) {
    std::string s = suffix;
    if (name.size() > s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0) name.resize(name.size() - s.size());
  }
  if (labelled && name.size() > 10) name = name.substr(10);  // drop "0005_0025_"
  return name;
}

}  // namespace

InferStats infer_dataset(models::VPSNetTrack& model, const std::string& data_root, const std::string& out_dir,
                         const InferOptions& opt) {
  data::CityscapesVps ds(data_root, opt.split);
  VPS_CHECK(!ds.all_frames().empty(), "vps infer: ", data_root, " split ", opt.split,
            " lists no frames in im_all_info_", opt.split, "_city_vps.json (the img_all index)");
  std::map<std::string, size_t> labelled;  // frame key -> index into ds.frames()
  for (size_t i = 0; i < ds.frames().size(); ++i) labelled[frame_key(ds.frames()[i].image_file, true)] = i;
  data::OutputDir out(out_dir, opt.force);
  data::make_dirs(data::join_path(out.path(), "pan_pred"));
  model.eval();
  OnlineTracker tracker(*model.track_head);
  SegmentIds segment_ids(ds.categories());
  std::map<size_t, nlohmann::json> annotations;  // by labelled frame index (pred.json in frame order)
  InferStats st;
  const int64_t total = int64_t(ds.all_frames().size());
  for (const data::CvpsVideo& v : ds.videos()) {
    segment_ids.new_video();
    bool first = true;
    for (size_t j : v.all) {
      const data::CvpsAllFrame& af = ds.all_frames()[j];
      std::string path = ds.all_frame_path(j);
      models::Frame f;
      f.image = models::load_model_input(path, model.backbone->conv_dtype(), 32, &f.img_h, &f.img_w);
      f.frame_index = af.frame_index, f.video_id = af.video;
      models::VPSNetFrameOutputs fo = model.infer_frame(f);
      // VPSNet resets at frame index 1; the first frame we see of a video starts it in any case
      std::vector<int64_t> ids =
          tracker.step(fo.roi_feats, fo.det.boxes, fo.det.labels, fo.det.scores, first || af.frame_index == 1);
      first = false;
      ++st.frames;
      auto it = labelled.find(frame_key(af.file, false));
      if (it != labelled.end()) {
        models::OutputMap o = model.compose(fo, ids, f.img_h, f.img_w);
        Pan2ch p = unify_frame(o.at("semantic").to_vector<int64_t>(), o.at("panoptic").to_vector<int64_t>(),
                               int(f.img_w), int(f.img_h), o.at("labels").to_vector<int64_t>(),
                               o.at("track_ids").to_vector<int64_t>(), model.panoptic_head.options().num_stuff,
                               opt.stuff_area_limit);
        nlohmann::json info;
        std::vector<uint32_t> pix = segment_ids.encode(p, &info);
        const data::CvpsFrame& lf = ds.frames()[it->second];
        data::write_png(data::join_path(out.path(), "pan_pred/" + data::checked_path_component(lf.name, "image id") + ".png"),
                        data::ids_to_image(pix, int(f.img_w), int(f.img_h)), 1);
        annotations[it->second] = {{"image_id", lf.name}, {"segments_info", info}};
        ++st.written;
      }
      if (opt.progress) opt.progress(st.videos, int64_t(ds.videos().size()), st.frames, total);
    }
    ++st.videos;
  }
  VPS_CHECK(annotations.size() == ds.frames().size(), "vps infer: ", ds.frames().size(), " labelled frames but ",
            annotations.size(), " of them are in img_all (", data_root, ")");
  nlohmann::json pred = {{"annotations", nlohmann::json::array()}};
  for (auto& [i, a] : annotations) pred["annotations"].push_back(a);
  data::write_json(data::join_path(out.path(), "pred.json"), pred);
  out.commit();
  return st;
}

}  // namespace vps::infer
