// `vps`: one binary, git-style subcommands (tools/cmd_*.cpp); the dispatch is vps::cli::run_main.
#include <omp.h>

#include <cstdio>
#include <cstdlib>
#include <exception>

#include "tools/command.h"
#include "train/distributed.h"

int main(int argc, char** argv) {
  // Several ranks on one machine (mpirun, srun, torchrun) and no OMP_NUM_THREADS: divide the cores
  // among them, or each rank's OpenMP threads would spin on the same cores (10-70x slower measured).
  // A malformed launcher environment is reported by the command that reads it (vps train, vps infer).
  try {
    vps::train::LaunchInfo launch = vps::train::launch_info([](const char* n) { return std::getenv(n); });
    if (launch.local_world > 1 && !std::getenv("OMP_NUM_THREADS"))
      omp_set_num_threads(vps::train::default_threads(launch, omp_get_num_procs()));
  } catch (const std::exception&) {
  }
  return vps::cli::run_main(argc, argv, stdout, stderr);
}
