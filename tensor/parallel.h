// Host loops over independent items (frames, videos, files) on OpenMP threads whose bodies may throw.
// An exception cannot leave an OpenMP region (the runtime terminates the process), so each one is
// caught inside the region; after the loop the exception of the lowest index is rethrown as it was,
// which is the one the sequential loop would have thrown. Kernel bodies run by parallel_for
// (tensor/hd.h) never throw: they are device code too.
#pragma once
#include <omp.h>

#include <cstdint>
#include <exception>
#include <vector>

namespace vps {

// Upper bound for any user-given thread count (flags, configs): libgomp crashes far above it.
constexpr int kMaxThreads = 1024;

// body(i) for i in [0, n) on `threads` threads (0: omp_get_max_threads()), dynamic schedule.
template <class F>
void parallel_for_each(int64_t n, int threads, F&& body) {
  if (n <= 0) return;
  int nt = threads > 0 ? threads : omp_get_max_threads();
  if (nt > kMaxThreads) nt = kMaxThreads;
  std::vector<std::exception_ptr> errors(static_cast<size_t>(n));
  bool any = false;
#pragma omp parallel for schedule(dynamic) num_threads(nt) reduction(|| : any)
  for (int64_t i = 0; i < n; ++i) {
    try {
      body(i);
    } catch (...) {
      errors[size_t(i)] = std::current_exception();
      any = true;
    }
  }
  if (!any) return;
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
}

}  // namespace vps
