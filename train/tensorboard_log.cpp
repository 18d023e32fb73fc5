#include "train/tensorboard_log.h"

#include <sys/resource.h>

#include <algorithm>

#include "data/cityscapes_vps.h"
#include "data/fs_util.h"
#include "data/vis.h"
#include "eval/pan_set.h"
#include "eval/stq.h"
#include "eval/vis_set.h"
#include "tensor/check.h"

namespace vps::train {

std::map<std::string, double> step_scalars(const StepRecord& r) {
  std::map<std::string, double> s;
  s["loss/total"] = r.total_loss;
  for (const auto& [k, v] : r.values) s[(k.find("loss") != std::string::npos ? "loss/" : "train/") + k] = v;
  s["lr"] = r.lr;
  s["grad_norm/total"] = r.grad_norm;
  for (const auto& [k, v] : r.grad_norms) s["grad_norm/" + k] = v;
  s["time/data"] = r.data_seconds;
  s["time/step"] = r.step_seconds;
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) == 0) s["memory/max_rss_mb"] = double(ru.ru_maxrss) / 1024.0;  // as log.jsonl
  return s;
}

std::map<std::string, double> eval_scalars(const eval::VpqResult& vpq, const eval::StqResult* stq) {
  std::map<std::string, double> s;
  for (const auto& w : vpq.windows) {
    std::string k = w.name.rfind("vpq-", 0) == 0 ? w.name.substr(4) : w.name;  // "vpq-5" -> "5"
    s["eval/vpq_k" + k + "/all"] = 100 * w.all.pq;
    s["eval/vpq_k" + k + "/things"] = 100 * w.things.pq;
    s["eval/vpq_k" + k + "/stuff"] = 100 * w.stuff.pq;
  }
  s["eval/vpq/all"] = vpq.final_all;
  s["eval/vpq/things"] = vpq.final_thing;
  s["eval/vpq/stuff"] = vpq.final_stuff;
  if (stq) {
    s["eval/stq"] = stq->stq;
    s["eval/aq"] = stq->aq;
    s["eval/sq_miou"] = stq->sq;
    s["eval/idf1"] = stq->ids.all.idf1();
    s["eval/id_switches"] = double(stq->ids.all.switches);
  }
  return s;
}

data::Image gt_vs_pred_strip(const std::string& data_root, const std::string& split, const std::string& pred_dir,
                             const std::string& work_dir, int frames) {
  eval::VisOptions o;
  o.gt_json = data::join_path(data_root, "panoptic_gt_" + split + "_city_vps.json");
  o.gt_dir = data::join_path(data_root, split + "/panoptic_video");
  o.pred_dir = pred_dir;
  o.out_dir = work_dir;
  o.side_by_side = true;
  if (data::path_exists(work_dir)) data::remove_tree(work_dir);
  eval::render_visualisation(o);
  std::vector<std::string> names = data::list_files(work_dir, ".png");
  names.resize(std::min(names.size(), size_t(std::max(frames, 1))));
  VPS_CHECK(!names.empty(), "TensorBoard image: vps vis drew no frame of ", o.gt_json);
  std::vector<data::Image> rows;
  int width = 0, height = 0;
  for (const auto& n : names) {
    rows.push_back(data::read_png(data::join_path(work_dir, n)));
    width = std::max(width, rows.back().width);
    height += rows.back().height;
  }
  data::Image strip = data::Image::make(width, height, 3);
  int y0 = 0;
  for (const auto& im : rows) {
    for (int y = 0; y < im.height; ++y)
      for (int x = 0; x < im.width; ++x)
        for (int c = 0; c < 3; ++c) strip.px(x, y0 + y)[c] = im.px(x, y)[std::min(c, im.channels - 1)];
    y0 += im.height;
  }
  return strip;
}

TensorBoardLog::TensorBoardLog(const std::string& run_dir, int64_t resume_iteration) : run_dir_(run_dir) {
  if (resume_iteration > 0) drop_events_after(run_dir, resume_iteration);
  writer_ = std::make_unique<EventFileWriter>(run_dir);
}

void TensorBoardLog::write_step(const StepRecord& r) { writer_->add_scalars(r.iteration, step_scalars(r)); }

void TensorBoardLog::write_eval(int64_t iteration, const eval::VpqResult& vpq, const std::string& data_root,
                                const std::string& split, const std::string& pred_dir) {
  data::CityscapesVps ds(data_root, split);
  const int video_len = ds.videos().empty() ? 1 : int(std::max<size_t>(1, ds.videos()[0].labelled.size()));
  eval::PanSet set = eval::load_pan_set(pred_dir, data::join_path(data_root, split + "/panoptic_video"),
                                        data::join_path(data_root, "panoptic_gt_" + split + "_city_vps.json"), video_len);
  eval::StqResult stq = eval::evaluate_stq(set, 0);
  writer_->add_scalars(iteration, eval_scalars(vpq, &stq));
  // three frames keep the event small
  writer_->add_image(iteration, "eval/gt_vs_pred",
                     gt_vs_pred_strip(data_root, split, pred_dir, data::join_path(run_dir_, "eval_vis"), 3));
}

}  // namespace vps::train
