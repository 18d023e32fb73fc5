// Sharded inference (docs/distributed.md): `vps infer --shard i/n` runs the videos v of a split with
// v % n == i (infer_dataset, InferOptions::shard) into a folder of its own; merge_shards joins the n
// folders into one prediction set byte for byte the single-process one: the same PNGs and pred.json.
// Only the thing segment ids need work: a single process numbers them over all videos in order, a
// shard over its own, so they are renumbered in the single process's order (SegmentIds::renumber).
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "train/distributed.h"

namespace vps::infer {

// "i/n" -> {i, n}; a usage error names the text when it is not 0 <= i < n.
struct ShardSpec {
  int index = 0, count = 1;
};
ShardSpec parse_shard(const std::string& text);

// The folder of shard i of n written beside `out` by `vps infer` under mpirun: <out>.shard-<i>-of-<n>.
std::string shard_dir(const std::string& out, const ShardSpec& s);

// Reads the shard folders (each with pan_pred/, pred.json and shard.json; in any order, every shard of
// one split once) and writes the merged set into out_dir as a whole (OutputDir). --dump tensors are
// copied as they are. Errors name the folder that is missing, repeated or of another split.
void merge_shards(const std::string& data_root, const std::string& split, const std::vector<std::string>& shard_dirs,
                  const std::string& out_dir, bool force);

// The shard one `vps infer` process runs: `shard_flag` ("i/n") when given; else, when started by
// mpirun / srun with several ranks, one shard per rank (comm set, with timeout() seconds for the
// ranks to meet; out_dir the rank's shard folder beside `out`, merged by merge_ranked_shards);
// else the whole set into `out`.
struct ShardPlan {
  ShardSpec shard;
  std::unique_ptr<train::Communicator> comm;
  std::string out_dir;
};
ShardPlan plan_shards(const std::string& shard_flag, const std::string& out, const train::LaunchInfo& launch,
                      const std::function<double()>& timeout);

// Under mpirun (plan.comm set): waits for every rank's shard, rank 0 merges the shard folders into
// `out` and removes them, and no rank returns before the merge is done. Returns whether this process
// merged (false without plan.comm).
bool merge_ranked_shards(const ShardPlan& plan, const std::string& data_root, const std::string& split,
                         const std::string& out, bool force);

}  // namespace vps::infer
