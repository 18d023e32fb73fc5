// `vps train --config C --data DIR --out RUN [--weights INIT] [--resume] [key=value ...]`: flags ->
// train/run_config.h, data/train_pairs.h and train/trainer.h; under mpirun / srun data-parallel
// (train/distributed.h, docs/distributed.md).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>

#include "data/cityscapes_vps.h"
#include "data/fs_util.h"
#include "data/train_pairs.h"
#include "infer/video_runner.h"
#include "models/registry.h"
#include "models/weights_io.h"
#include "tensor/check.h"
#include "tensor/io/raw_array.h"
#include "tools/command.h"
#include "train/run_config.h"
#include "train/run_setup.h"
#include "train/tensorboard_log.h"
#include "train/trainer.h"

namespace {

int run_train(const std::vector<std::string>& args) {
  vps::cli::Flags f("train",
                    "Train a model (VPSNet-Track on pairs of frames of one video) on a Cityscapes-VPS layout dataset.\n"
                    "The config names the model config and holds data, optimizer, schedule, max_iters, checkpoint_every;\n"
                    "any field can be overridden with key=value (optimizer.lr=0.02, max_iters=100, model.seed=3).\n"
                    "Writes RUN/config.json, RUN/log.jsonl (one line per step), TensorBoard event files, RUN/checkpoint.safetensors (model, optimizer,\n"
                    "iteration, RNG; every checkpoint_every steps and at the end) and RUN/model.safetensors (the weights).\n" +
                        std::string(vps::cli::kThreadsHelp));
  f.opt("config", "", "train config JSON (e.g. configs/train_vpsnet_tiny.json)", true)
      .opt("data", "", "dataset root (Cityscapes-VPS layout, e.g. from `vps synth`)", true)
      .opt("out", "", "run folder", true)
      .opt("weights", "", "initial weights by name (.safetensors or .pth): an ImageNet ResNet-50, a VPSNet checkpoint")
      .opt("eval-every", "0", "every N iterations run the model over --eval-split and log its VPQ to RUN/eval.jsonl (0: never)")
      .opt("eval-split", "val", "split of --data for --eval-every")
      .opt("distributed", "auto", "data-parallel backend: auto (mpi when started by mpirun/srun with several ranks, else none), none, mpi, nccl")
      .opt("dist-timeout", "600", "seconds a rank waits for the others at a collective before stopping with an error naming them")
      .flag("resume", "continue from RUN/checkpoint.safetensors with its optimizer and RNG state")
      .flag("force", "start afresh in a non-empty run folder (its files are replaced)")
      .positionals("[key=value ...]", 0, 1000);
  if (!f.parse(args)) return 0;
  const std::string run = f.get("out");
  vps::train::RunConfig rc =
      vps::train::run_config(vps::models::load_config(f.get("config")), vps::dir_of(f.get("config")), f.positional());
  const vps::train::LaunchInfo launch = vps::train::launch_info([](const char* n) { return std::getenv(n); });
  std::string backend = f.get_choice("distributed", {"auto", "none", "mpi", "nccl"});
  if (backend == "auto") backend = launch.world > 1 ? "mpi" : "none";
  if (backend == "nccl")
    throw vps::cli::UsageError("vps train --distributed nccl: vps train runs on the CPU (MPI's CPU tensors); "
                               "NCCL is for GPU tensors (train::make_communicator, docs/distributed.md)");
  const double timeout = f.get_double("dist-timeout", 1e-3, 1e7);
  auto comm = vps::train::make_communicator(backend, launch, timeout);
  const bool root = comm->rank() == 0;  // writes the run folder, the log, checkpoints and weights
  auto model = vps::models::build_model(rc.model);
  vps::data::PathLock lock;  // one writer per run folder, held until the command returns
  const std::string ckpt = vps::train::prepare_run_folder(run, rc.resolved, f.on("resume"), f.on("force"), root,
                                                          {f.get("data"), f.get("weights"), f.get("config")}, lock);
  comm->barrier("the run folder " + run);  // rank 0 has cleared and created it
  if (!f.get("weights").empty()) vps::train::load_initial_weights(*model, f.get("weights"), root);
  vps::data::CityscapesVps ds(f.get("data"), rc.split, rc.format);
  vps::train::check_class_counts(*model, ds, f.get("data"));
  rc.data.flow_dir = vps::train::resolve_flow_dir(rc.flow, f.get("data"), rc.split);
  vps::data::PairSampler sampler(ds, rc.data);
  vps::data::PrefetchingSampler prefetch(sampler);
  vps::train::TrainerOptions to = rc.trainer;
  to.out_dir = run;
  to.checkpoint_metadata = {{"config", f.get("config")}};
  to.comm = comm.get();
  vps::train::Trainer trainer(model, to);
  if (root && comm->size() > 1)
    std::printf("vps train: data-parallel over %d ranks (%s, started by %s), %lld samples per step\n", comm->size(),
                backend.c_str(), launch.launcher.c_str(), (long long)(comm->size() * to.accumulate));
  if (f.on("resume")) {
    trainer.resume(ckpt);
    if (root) std::printf("vps train: resumed %s at iteration %lld\n", ckpt.c_str(), (long long)trainer.iteration());
  }
  std::unique_ptr<vps::train::TensorBoardLog> tb;  // rank 0's event file (train config "tensorboard": false: none)
  if (root && rc.tensorboard) tb = std::make_unique<vps::train::TensorBoardLog>(run, trainer.iteration());
  const int64_t eval_every = f.get_int64("eval-every", 0, int64_t(1) << 40);
  auto vpsnet = std::dynamic_pointer_cast<vps::models::VPSNetTrack>(model);
  VPS_CHECK(eval_every == 0 || vpsnet, "vps train --eval-every: the model is a ", model->type_name(),
            ", not a VPSNetTrack");
  VPS_CHECK(eval_every == 0 || rc.format == vps::data::DatasetFormat::cityscapes_vps,
            "vps train --eval-every: runs on Cityscapes-VPS layouts only; for VIPER run vps eval vpq --viper on a prediction");
  const std::string eval_split = f.get_choice("eval-split", {"train", "val", "test"});
  auto evaluate = [&](int64_t iteration) {
    vps::infer::InferOptions io;
    io.split = eval_split;
    auto r = vps::infer::infer_and_score(*vpsnet, f.get("data"), vps::data::join_path(run, "eval_pred"), io);
    model->train();
    vps::train::log_eval(run, iteration, r.final_all, r.final_thing, r.final_stuff);
    if (tb) tb->write_eval(iteration, r, f.get("data"), eval_split, vps::data::join_path(run, "eval_pred"));
    std::printf("eval at iter %lld on %s: VPQ %.2f (thing %.2f, stuff %.2f)\n", (long long)iteration,
                eval_split.c_str(), r.final_all, r.final_thing, r.final_stuff);
  };
  model->train();
  auto t0 = std::chrono::steady_clock::now();
  const int64_t first = trainer.iteration();
  trainer.run([&](int64_t index) { return prefetch.get(index, trainer.next_sample_index(index)); },
              [&](const vps::train::StepRecord& r) {
                if (!root) return;
                if (tb) tb->write_step(r);
                if (eval_every > 0 && r.iteration % eval_every == 0) evaluate(r.iteration);
                if (r.iteration % rc.log_every != 0 && r.iteration != to.max_iters && r.iteration != first + 1) return;
                double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
                double per = s / double(r.iteration - first);
                std::printf("iter %lld/%lld  loss %.4f", (long long)r.iteration, (long long)to.max_iters, r.total_loss);
                for (auto& [k, v] : r.values)
                  if (k.find("loss") != std::string::npos) std::printf("  %s %.4f", k.c_str(), v);
                std::printf("  lr %.5f  %.2f s/it  ETA %.0f s\n", r.lr, per, per * double(to.max_iters - r.iteration));
                std::fflush(stdout);
              });
  // the weights alone, by name, for `vps infer --weights` and as an initialisation (no optimizer state)
  const std::string weights = vps::data::join_path(run, "model.safetensors");
  if (!root) return 0;
  vps::models::save(*model, weights, {{"config", f.get("config")}, {"iteration", std::to_string(trainer.iteration())}},
                    model->training_only_prefixes());
  std::printf("vps train: %lld iterations done, checkpoint %s, weights %s\n", (long long)trainer.iteration(), ckpt.c_str(),
              weights.c_str());
  return 0;
}

}  // namespace

VPS_COMMAND("train", "train a model on a Cityscapes-VPS layout dataset (pairs of frames)", run_train);
