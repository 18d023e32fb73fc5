// Memory for tensor storages. CPU: 64-byte aligned host memory. CUDA: a caching allocator with
// size-bucketed free lists, so that the many short-lived tensors of a training step do not each
// pay for cudaMalloc/cudaFree. The caching logic is independent of CUDA (backend callbacks) so the
// CPU tests exercise it too.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <vector>

#include "tensor/device.h"

namespace vps {

struct AllocatorStats {
  size_t allocated_bytes = 0;   // handed out and not yet returned
  size_t cached_bytes = 0;      // held in free lists
  size_t peak_allocated_bytes = 0;
  size_t num_backend_allocs = 0;  // calls that reached the backend (cudaMalloc)
  size_t num_cache_hits = 0;
  size_t num_backend_frees = 0;
};

class CachingAllocator {
 public:
  using RawAlloc = std::function<void*(size_t)>;  // returns nullptr when out of memory
  using RawFree = std::function<void(void*)>;
  // max_cached_bytes: the most the free lists hold. A released block that would exceed it makes room
  // by giving the longest-cached blocks back to the backend (it is of a size the running code uses
  // now); a block larger than the bound goes back itself.
  CachingAllocator(RawAlloc raw_alloc, RawFree raw_free, size_t max_cached_bytes = SIZE_MAX)
      : raw_alloc_(std::move(raw_alloc)), raw_free_(std::move(raw_free)), max_cached_(max_cached_bytes) {}
  ~CachingAllocator();
  // Size classes: multiples of 512 B up to 1 MiB, multiples of 2 MiB beyond. A request of a large
  // class is served by the smallest cached block of up to 1.25x its class when its own class has none
  // (best fit: tensors of one step rarely repeat exact sizes across stages).
  static size_t round_size(size_t n);
  void* allocate(size_t nbytes);  // throws vps::Error when the backend fails even after emptying the cache
  void release(void* p);          // back to the free list of its size class
  void empty_cache();             // returns every cached block to the backend
  AllocatorStats stats() const;

 private:
  RawAlloc raw_alloc_;
  RawFree raw_free_;
  size_t max_cached_;
  mutable std::mutex mu_;
  // Gives the longest-cached block back to the backend; false when nothing is cached.
  bool evict_oldest();

  // A cached block and its release number. Each class's list is in release order (released blocks
  // are appended, reuse takes the last), so the longest-cached block is the oldest of the fronts.
  struct Cached {
    void* p;
    uint64_t released;
  };
  std::map<size_t, std::vector<Cached>> free_;  // size class -> blocks (no empty lists)
  std::map<void*, size_t> live_;                // block -> size class
  uint64_t releases_ = 0;
  AllocatorStats stats_;
};

// Host blocks of 1 MiB and more are cached as well (see allocator.cpp); `nbytes` must be the size
// the block was allocated with.
void* allocate_bytes(Device d, size_t nbytes);
// Refuses (vps::Error "out of memory ...", naming `what`) a host block larger than this machine's
// physical memory: such a request can never succeed, and with overcommit malloc may even "succeed"
// and the process be killed later. Also what keeps sanitizer builds, whose allocator aborts instead
// of throwing std::bad_alloc, testing absurd sizes.
void check_host_bytes(size_t nbytes, const char* what);
// This machine's physical memory in bytes (0 when the system does not say).
uint64_t host_memory_bytes();
void free_bytes(Device d, void* p, size_t nbytes);
AllocatorStats host_allocator_stats();
void host_empty_cache();
// Statistics and cache control of the CUDA allocator of device `index` (zeros without CUDA).
AllocatorStats cuda_allocator_stats(int index = 0);
void cuda_empty_cache(int index = 0);

}  // namespace vps
