// Visualisation of panoptic (video) segmentations: class colours for stuff, a stable colour per track
// id for things, overlays with outlines, GT | prediction side by side, contact sheets and GIFs.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "data/image_io.h"
#include "data/panoptic.h"

namespace vps::data {

// Stuff: the category colour; things: a colour that depends only on the segment (track) id, so an
// object keeps its colour over the video. Unknown categories are grey.
std::array<uint8_t, 3> segment_color(uint32_t id, int category_id, const std::vector<Category>& cats);
// Colours an id map (H*W); ids missing from `category_of` and void (0) are black.
Image colorize(const std::vector<uint32_t>& ids, int width, int height,
               const std::unordered_map<uint32_t, int>& category_of, const std::vector<Category>& cats);
// Blends `color` over `rgb` (alpha_pct of the colour) and draws white outlines between segments.
Image overlay(const Image& rgb, const Image& color, const std::vector<uint32_t>& ids, int alpha_pct = 50);
// [a | gap | b] with a white gap; the images must have the same height.
Image side_by_side(const Image& a, const Image& b, int gap = 4);
// Frames on a grid of `cols` columns, each scaled (nearest) to thumb_w wide.
Image contact_sheet(const std::vector<Image>& frames, int cols, int thumb_w);
// Nearest-neighbour resize of an 8-bit image.
Image resize_nearest(const Image& im, int width, int height);

}  // namespace vps::data
