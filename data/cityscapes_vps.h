// Cityscapes-VPS reader: the official layout ({train,val,test}/img, img_all, labelmap, panoptic_video,
// panoptic_im_*, panoptic_gt_*, im_all_info_* and instances_* JSON files) as an in-memory index, and
// per labelled frame: image, semantic train ids (255 void), instances with video-consistent ids and boxes.
// The same class reads VIPER in its VPS format (DatasetFormat::viper; docs/data-and-eval.md): one COCO
// panoptic JSON per split (viper_panoptic_<split>_video.json) and the optional instances JSON
// (instances_<split>_NN_viper_coco.json), 23 classes (stuff 0..12, things 13..22), semantic GT from the
// panoptic PNGs, every listed frame both labelled and a video frame.
#pragma once
#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "data/image_io.h"
#include "data/panoptic.h"

namespace vps::data {

struct CvpsSegment {
  uint32_t id = 0;
  int category_id = 0, iscrowd = 0;
  int64_t area = 0;
  std::array<int, 4> bbox{};  // x, y, w, h
};

struct CvpsAnnotation {   // one entry of instances_*_city_vps_rle.json
  int category_id = 0, inst_id = 0, iscrowd = 0;
  std::array<double, 4> bbox{};  // x, y, w, h
  nlohmann::json segmentation;
};

struct CvpsFrame {        // a labelled frame
  std::string name;       // string id, e.g. "0005_0025_frankfurt_000000_001736"
  int video = 0;          // from the first four digits of the name
  int rank = 0;           // position among the labelled frames of its video (0-based)
  int frame_index = 0;    // 1-based frame index in the 30-frame snippet when known (instances json), else 0
  std::string image_file, label_file;
  int width = 0, height = 0;
  std::vector<CvpsSegment> segments;        // from panoptic_gt_<split>_city_vps.json (if present)
  std::vector<CvpsAnnotation> annotations;  // from instances_<split>_city_vps_rle.json (if present)
};

struct CvpsAllFrame {     // one entry of im_all_info_<split>_city_vps.json
  int64_t id = 0;         // video * 10000 + frame index (1-based)
  int video = 0, frame_index = 0;
  std::string file;
  int width = 0, height = 0;  // when the index gives them (0: unknown)
};

struct CvpsVideo {
  int id = 0;
  std::vector<size_t> labelled;  // indices into frames(), in time order
  std::vector<size_t> all;       // indices into all_frames(), in time order
};

struct CvpsInstance {
  int category_id = 0;           // train id 11..18
  int obj_id = 0;                // video-consistent object id (inst_id, or the panoptic segment id)
  bool iscrowd = false;
  std::array<float, 4> box{};    // x1, y1, x2, y2 (inclusive, as mmdet's x+w-1)
  std::vector<uint8_t> mask;     // H*W, 0/1
};

struct CvpsSample {
  Image image;                   // 8-bit RGB
  std::vector<uint8_t> semantic; // H*W train ids, 255 void
  std::vector<CvpsInstance> instances;
};

enum class DatasetFormat { cityscapes_vps, viper };
// "cityscapes_vps" | "viper" (errors name `where`).
DatasetFormat dataset_format_from_string(const std::string& s, const std::string& where);

class CityscapesVps {
 public:
  // Reads the JSON index of `split` (Cityscapes-VPS: train, val or test; VIPER: any [a-z0-9_] name such as
  // val_day) under `root`; errors name the file and image id.
  CityscapesVps(const std::string& root, const std::string& split, DatasetFormat format = DatasetFormat::cityscapes_vps);
  DatasetFormat format() const { return format_; }
  int num_classes() const { return num_classes_; }  // semantic classes: 19 (Cityscapes), 23 (VIPER)
  // Train ids of the thing classes, first..last: 11..18 (Cityscapes), 13..22 (VIPER); detector label =
  // train id - first + 1.
  int first_thing() const { return first_thing_; }
  int last_thing() const { return last_thing_; }
  const std::vector<Category>& categories() const { return categories_; }
  const std::vector<CvpsFrame>& frames() const { return frames_; }
  const std::vector<CvpsAllFrame>& all_frames() const { return all_; }
  const std::vector<CvpsVideo>& videos() const { return videos_; }
  const std::string& split() const { return split_; }
  std::string image_path(size_t i) const;
  std::string all_frame_path(size_t j) const;
  // Loads labelled frame i: image, semantic map and instances (from the instances json when present,
  // else from the panoptic_video PNG and panoptic GT json).
  CvpsSample load(size_t i) const;
  // Labelled frames of the same video whose rank differs from frame i's by 1..radius, in time order.
  std::vector<size_t> neighbours(size_t i, int radius = 1) const;

 private:
  void read_viper_index();
  void read_instances_json(const std::string& path, const std::map<std::string, size_t>& by_file);
  void index_videos();
  CvpsVideo& video(int id);

  std::string root_, split_;
  DatasetFormat format_ = DatasetFormat::cityscapes_vps;
  int num_classes_ = 19, first_thing_ = 11, last_thing_ = 18;
  std::vector<Category> categories_;
  std::vector<CvpsFrame> frames_;
  std::vector<CvpsAllFrame> all_;
  std::vector<CvpsVideo> videos_;
  std::map<int, int> thing_label_;   // instances json category id -> train id
  bool has_instances_ = false, has_panoptic_ = false;
};

}  // namespace vps::data
