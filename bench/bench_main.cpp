#include <algorithm>
#include <cstdio>

#include "bench/bench_registry.h"
#include "tensor/check.h"

namespace vps::bench {

std::map<std::string, BenchFn>& registry() {
  static std::map<std::string, BenchFn> r;
  return r;
}

double time_ms(const std::function<void()>& f, int reps, int warmup, const std::function<void()>& sync) {
  for (int i = 0; i < warmup; ++i) {
    f();
    if (sync) sync();
  }
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) {
    auto a = std::chrono::steady_clock::now();
    f();
    if (sync) sync();
    auto b = std::chrono::steady_clock::now();
    t.push_back(std::chrono::duration<double, std::milli>(b - a).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

void report(const std::string& name, double ms, const std::string& extra) {
  std::printf("RESULT %s %.4f %s\n", name.c_str(), ms, extra.c_str());
  std::fflush(stdout);
}

}  // namespace vps::bench

int main(int argc, char** argv) {
  auto& reg = vps::bench::registry();
  if (argc < 2) {
    std::printf("usage: vps_bench NAME [args]\ncases:\n");
    for (auto& [n, f] : reg) std::printf("  %s\n", n.c_str());
    return 2;
  }
  std::string want = argv[1];
  std::vector<std::string> args(argv + 2, argv + argc);
  int ran = 0;
  try {
    for (auto& [n, f] : reg)
      if (n.rfind(want, 0) == 0) {
        f(args);
        ++ran;
      }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "vps_bench: %s\n", e.what());
    return 1;
  }
  if (!ran) {
    std::fprintf(stderr, "vps_bench: no case named %s\n", want.c_str());
    return 2;
  }
  return 0;
}
