// `vps synth`: writes a synthetic dataset in the exact Cityscapes-VPS layout (images, labelmaps,
// panoptic_video PNGs and all JSON files), byte-identical for the same options and seed.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace vps::data {

struct SynthOptions {
  int videos = 2;               // per split
  int frames = 30;              // frames per video
  int label_every = 5;          // frames 5, 10, ... (1-based) are labelled
  int width = 256, height = 128;
  uint64_t seed = 1;
  std::vector<std::string> splits = {"train", "val"};  // any of train, val, test
  std::string images = "all";   // all | labelled | none (none: labels and JSON only, for benchmarks)
  int png_level = 6;            // zlib level of written PNGs
  bool camera_motion = false;   // SceneOptions (data/synth_scene.h); off: today's scenes, byte for byte
  bool crossing = false;
  // Exact forward flow (data/flow_io.h) of every labelled frame of train/val to the frame at each offset
  // (in frames, clamped to the video, itself skipped): <split>/flow/<target>__<ref>.safetensors.
  std::vector<int> flow_offsets;
};

// Why the Cityscapes-VPS layout cannot encode these counts ("" when it can): at most 9999 frames a video,
// 9999 videos over the splits and 9999 labelled frames in all (ids and names of 4 digits).
std::string synth_layout_problem(const SynthOptions& opt);
// A lower bound of the bytes the dataset takes on disk (PNG sizes measured on the default scenes, halved).
uint64_t synth_disk_bytes_lower_bound(const SynthOptions& opt);

// Writes the dataset under `root` (created if needed). Video ids are consecutive over the splits in
// the order train, val, test. Throws vps::Error naming the file on any failure.
void write_synthetic_dataset(const std::string& root, const SynthOptions& opt);

// Name stem of labelled frame k (1-based) of video `vid`: "0005_0025_synth_000005_000005".
std::string synth_frame_stem(int vid, int k, int labels_per_video, int frame_index);
// Image file name of frame `fi` (1-based) of video `vid`: the labelled name for a labelled frame, else
// the img_all name "synth_000005_000003_leftImg8bit.png".
std::string synth_image_file(int vid, int fi, const SynthOptions& opt);

}  // namespace vps::data
