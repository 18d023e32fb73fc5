// Benchmarks of the vps_bench binary: each bench/<area>_bench.cpp registers named cases with
// VPS_BENCH("name", fn). `vps_bench NAME [args]` runs one (or every case whose name starts with NAME).
#pragma once
#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace vps::bench {

using BenchFn = std::function<void(const std::vector<std::string>& args)>;
std::map<std::string, BenchFn>& registry();
struct BenchRegistrar {
  BenchRegistrar(const std::string& name, BenchFn fn) { registry()[name] = std::move(fn); }
};

// Median wall time in milliseconds of `reps` calls of f after `warmup` calls. `sync` runs after each
// call (e.g. a CUDA device synchronize) so GPU work is counted.
double time_ms(const std::function<void()>& f, int reps = 5, int warmup = 1,
               const std::function<void()>& sync = nullptr);

// Prints one result line in the format bench scripts parse: "RESULT name ms extra".
void report(const std::string& name, double ms, const std::string& extra = "");

}  // namespace vps::bench

#define VPS_BENCH_CAT_(a, b) a##b
#define VPS_BENCH_CAT(a, b) VPS_BENCH_CAT_(a, b)
#define VPS_BENCH(name, fn) static ::vps::bench::BenchRegistrar VPS_BENCH_CAT(vps_bench_reg_, __LINE__)(name, fn)
