// `vps vis`: colour panoptic predictions / GT as PNGs, overlays, side by side, GIFs, contact sheets.
#include <cstdio>

#include "data/fs_util.h"
#include "eval/vis_set.h"
#include "tools/command.h"

namespace {

int run_vis(const std::vector<std::string>& args) {
  vps::cli::Flags f("vis", "Colour panoptic (video) segmentations: stuff by class colour, things by track id.");
  f.opt("gt-json", "", "GT json (image list, order and categories)", true)
      .opt("gt", "", "GT panoptic_video folder (optional)")
      .opt("pred", "", "prediction folder with pan_pred/ and pred.json (optional)")
      .opt("images", "", "folder of RGB frames named as images[].file_name: overlay with outlines")
      .opt("out", "", "output folder", true)
      .flag("side-by-side", "GT | prediction in one image (needs --gt and --pred)")
      .flag("gif", "also write an animated GIF per video")
      .flag("sheet", "also write a contact sheet per video")
      .opt("alpha", "50", "overlay opacity of the colours, percent (0..100)")
      .opt("max-pixels", "134217728", "largest PNG in pixels, refused by name before it is decoded")
      .flag("force", "replace a non-empty --out folder as a whole");
  if (!f.parse(args)) return 0;
  vps::eval::VisOptions o;
  o.gt_json = f.get("gt-json");
  o.gt_dir = f.get("gt");
  o.pred_dir = f.get("pred");
  o.images_dir = f.get("images");
  if (o.gt_dir.empty() && o.pred_dir.empty()) throw vps::cli::UsageError("vps vis: give --gt, --pred or both");
  if (f.on("side-by-side") && (o.gt_dir.empty() || o.pred_dir.empty()))
    throw vps::cli::UsageError("vps vis: --side-by-side needs both --gt and --pred");
  o.side_by_side = f.on("side-by-side");
  o.gif = f.on("gif");
  o.sheet = f.on("sheet");
  o.alpha = f.get_int("alpha", 0, 100);
  o.max_pixels = f.get_int64("max-pixels", 1, int64_t(1) << 32);
  vps::data::OutputDir out(f.get("out"), f.on("force"), {o.gt_json, o.gt_dir, o.pred_dir, o.images_dir});
  o.out_dir = out.path();
  int n = vps::eval::render_visualisation(o);
  out.commit();
  std::printf("vps vis: wrote %d frame image(s) to %s\n", n, out.final_path().c_str());
  return 0;
}

}  // namespace

VPS_COMMAND("vis", "visualise panoptic segmentations (PNG, overlay, side by side, GIF, contact sheet)", run_vis);
