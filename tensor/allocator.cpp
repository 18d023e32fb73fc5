#include "tensor/allocator.h"

#include <unistd.h>

#include <cstdlib>
#include <memory>

#include "tensor/check.h"
#if VPS_CUDA
#include <cuda_runtime.h>
#endif

namespace vps {

CachingAllocator::~CachingAllocator() { empty_cache(); }

size_t CachingAllocator::round_size(size_t n) {
  if (n == 0) n = 1;
  const size_t small = 512, large = size_t(2) << 20;
  if (n <= (size_t(1) << 20)) return (n + small - 1) / small * small;
  return (n + large - 1) / large * large;
}

void* CachingAllocator::allocate(size_t nbytes) {
  size_t sz = round_size(nbytes);
  std::lock_guard<std::mutex> lock(mu_);
  void* p = nullptr;
  auto it = free_.lower_bound(sz);
  const size_t fit = sz > (size_t(1) << 20) ? sz + sz / 4 : sz;
  if (it != free_.end() && it->first <= fit) {
    sz = it->first;  // the block's own class
    p = it->second.back().p;
    it->second.pop_back();
    if (it->second.empty()) free_.erase(it);
    stats_.cached_bytes -= sz;
    stats_.num_cache_hits++;
  } else {
    p = raw_alloc_(sz);
    if (!p) {  // out of memory: give the cache back and try once more
      for (auto& [s, blocks] : free_)
        for (const Cached& b : blocks) {
          raw_free_(b.p);
          stats_.num_backend_frees++;
        }
      free_.clear();
      stats_.cached_bytes = 0;
      p = raw_alloc_(sz);
    }
    VPS_CHECK(p, "out of memory allocating ", nbytes, " bytes (", stats_.allocated_bytes,
              " bytes in use)");
    stats_.num_backend_allocs++;
  }
  live_[p] = sz;
  stats_.allocated_bytes += sz;
  if (stats_.allocated_bytes > stats_.peak_allocated_bytes) stats_.peak_allocated_bytes = stats_.allocated_bytes;
  return p;
}

void CachingAllocator::release(void* p) {
  if (!p) return;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = live_.find(p);
  VPS_CHECK(it != live_.end(), "CachingAllocator::release: pointer was not allocated here");
  size_t sz = it->second;
  live_.erase(it);
  stats_.allocated_bytes -= sz;
  if (sz > max_cached_) {
    raw_free_(p);
    stats_.num_backend_frees++;
    return;
  }
  while (stats_.cached_bytes + sz > max_cached_ && evict_oldest()) {
  }
  free_[sz].push_back({p, ++releases_});
  stats_.cached_bytes += sz;
}

bool CachingAllocator::evict_oldest() {
  auto oldest = free_.end();
  for (auto it = free_.begin(); it != free_.end(); ++it)  // one front per size class
    if (oldest == free_.end() || it->second.front().released < oldest->second.front().released) oldest = it;
  if (oldest == free_.end()) return false;
  std::vector<Cached>& blocks = oldest->second;
  raw_free_(blocks.front().p);
  stats_.num_backend_frees++;
  stats_.cached_bytes -= oldest->first;
  blocks.erase(blocks.begin());
  if (blocks.empty()) free_.erase(oldest);
  return true;
}

void CachingAllocator::empty_cache() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [s, blocks] : free_)
    for (const Cached& b : blocks) {
      raw_free_(b.p);
      stats_.num_backend_frees++;
    }
  free_.clear();
  stats_.cached_bytes = 0;
}

AllocatorStats CachingAllocator::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

#if VPS_CUDA
static CachingAllocator& cuda_allocator(int index) {
  static std::mutex mu;
  static std::map<int, std::unique_ptr<CachingAllocator>> per_device;
  std::lock_guard<std::mutex> lock(mu);
  auto& a = per_device[index];
  if (!a) {
    a = std::make_unique<CachingAllocator>(
        [index](size_t n) -> void* {
          void* p = nullptr;
          cudaSetDevice(index);
          if (cudaMalloc(&p, n) != cudaSuccess) {
            cudaGetLastError();
            return nullptr;
          }
          return p;
        },
        [index](void* p) {
          cudaSetDevice(index);
          cudaFree(p);
        });
  }
  return *a;
}
#endif

// Host blocks of at least this size go through a caching allocator too: glibc serves them with
// mmap/munmap, and zeroing fresh pages on first touch (page faults) cost as much as a large
// elementwise or softmax pass itself (measured with perf on `vps_bench core_softmax`).
// Smaller blocks use malloc's own free lists. host_empty_cache() gives the cached blocks back. The cache
// holds at most 1 GiB: without a bound, blocks freed by one stage of a 1024x2048 frame and never reused
// by the next doubled the peak RSS (3.45 GB for 1.5 GB of tensors alive at once; bench_vpsnet.sh).
// At the bound the longest-cached blocks make room for a released one: when the released block went
// back instead, the cache stayed full of an earlier stage's sizes and the mask head's 20-80 MB blocks
// came fresh from the kernel every call (interleaved runs, 2026-12-07: the mask head 4-25% and the
// 1024x2048 frame 1-9% faster, depending on the hour; its peak RSS 2.58-2.60 -> 2.46-2.50 GB).
// Under AddressSanitizer (DEBUG=1) nothing is cached, so use-after-free stays detectable.
#if defined(__SANITIZE_ADDRESS__)
constexpr size_t kHostCacheMin = SIZE_MAX;
#else
constexpr size_t kHostCacheMin = size_t(1) << 20;
#endif

static CachingAllocator& host_cache() {
  static CachingAllocator a([](size_t n) { return std::aligned_alloc(64, n); }, [](void* p) { std::free(p); },
                            size_t(1) << 30);
  return a;
}

uint64_t host_memory_bytes() {
  static const uint64_t bytes = [] {
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    return pages > 0 && page > 0 ? uint64_t(pages) * uint64_t(page) : uint64_t(0);
  }();
  return bytes;
}

void check_host_bytes(size_t nbytes, const char* what) {
  static const double physical = double(host_memory_bytes());
  if (physical > 0 && double(nbytes) > physical)
    VPS_FAIL("out of memory: ", what, " needs ", double(nbytes) / 1e9, " GB, more than this machine's ",
             physical / 1e9, " GB");
}

void* allocate_bytes(Device d, size_t nbytes) {
  if (d.is_cpu()) {
    check_host_bytes(nbytes, "a host block");
    if (nbytes >= kHostCacheMin) return host_cache().allocate(nbytes);  // sizes are multiples of 512
    size_t n = (nbytes + 63) / 64 * 64;
    void* p = std::aligned_alloc(64, n ? n : 64);
    VPS_CHECK(p, "out of host memory allocating ", nbytes, " bytes");
    return p;
  }
#if VPS_CUDA
  VPS_CHECK(d.index < cuda_device_count(), "device ", d.str(), " is not available (", cuda_device_count(),
            " CUDA devices)");
  return cuda_allocator(d.index).allocate(nbytes);
#else
  VPS_FAIL("device ", d.str(), " requested but vps was built without CUDA");
#endif
}

void free_bytes(Device d, void* p, size_t nbytes) {
  if (d.is_cpu()) {
    if (nbytes >= kHostCacheMin)
      host_cache().release(p);
    else
      std::free(p);
    return;
  }
#if VPS_CUDA
  cuda_allocator(d.index).release(p);
#endif
}

AllocatorStats host_allocator_stats() { return host_cache().stats(); }
void host_empty_cache() { host_cache().empty_cache(); }

AllocatorStats cuda_allocator_stats(int index) {
#if VPS_CUDA
  if (cuda_available()) return cuda_allocator(index).stats();
#endif
  return {};
}

void cuda_empty_cache(int index) {
#if VPS_CUDA
  if (cuda_available()) cuda_allocator(index).empty_cache();
#endif
}

}  // namespace vps
