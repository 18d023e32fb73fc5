#include <gtest/gtest.h>

#include <cmath>

#include <sstream>

#include "tensor/allocator.h"
#include "tensor/tensor.h"
#include "tests/gradcheck.h"

using namespace vps;

TEST(Tensor, FactoriesShapesAndItems) {
  Tensor z = Tensor::zeros({2, 3});
  EXPECT_EQ(z.numel(), 6);
  EXPECT_EQ(z.dtype(), DType::f32);
  EXPECT_TRUE(z.is_contiguous());
  EXPECT_EQ(Tensor::full({2}, 2.5, DType::f64).to_vector<double>(), (std::vector<double>{2.5, 2.5}));
  EXPECT_EQ(Tensor::arange(0, 5, 2, DType::i64).to_vector<int64_t>(), (std::vector<int64_t>{0, 2, 4}));
  EXPECT_EQ(Tensor::ones({}).item<float>(), 1.0f);
  EXPECT_THROW(Tensor::zeros({2, 2}).item<float>(), Error);
  EXPECT_THROW(Tensor::from_vector<float>({1, 2, 3}, {2, 2}), Error);
}

TEST(Tensor, ViewsShareStorageAndIndexCorrectly) {
  Tensor a = Tensor::arange(0, 24, 1, DType::f64).reshape({2, 3, 4});
  Tensor p = a.permute({2, 0, 1});
  EXPECT_EQ(p.shape(), (Shape{4, 2, 3}));
  EXPECT_FALSE(p.is_contiguous());
  EXPECT_TRUE(p.same_storage(a));
  // p[1][1][2] == a[1][2][1] == 1*12 + 2*4 + 1
  EXPECT_EQ(p.select(0, 1).select(0, 1).select(0, 2).item<double>(), 21.0);
  Tensor s = a.slice(2, 1, 4, 2);  // columns 1 and 3
  EXPECT_EQ(s.contiguous().to_vector<double>()[1], 3.0);
  EXPECT_EQ(a.transpose(0, 2).contiguous().transpose(0, 2).to_vector<double>(), a.to_vector<double>());
  Tensor e = Tensor::arange(0, 3, 1, DType::f64).reshape({3, 1}).expand({3, 4});
  EXPECT_EQ(e.strides()[1], 0);
  EXPECT_EQ(e.contiguous().to_vector<double>()[5], 1.0);
  EXPECT_EQ(a.unsqueeze(1).shape(), (Shape{2, 1, 3, 4}));
  EXPECT_EQ(a.unsqueeze(-1).shape(), (Shape{2, 3, 4, 1}));
  EXPECT_EQ(a.unsqueeze(0).squeeze(0).shape(), a.shape());
  EXPECT_EQ(a.flatten(1).shape(), (Shape{2, 12}));
  EXPECT_EQ(a.view({-1, 4}).shape(), (Shape{6, 4}));
  EXPECT_THROW(p.view({8, 3}), Error);  // not viewable without a copy
  EXPECT_EQ(p.reshape({8, 3}).to_vector<double>(), p.contiguous().to_vector<double>());
  EXPECT_THROW(a.view({5, 5}), Error);
  EXPECT_THROW(a.permute({0, 0, 1}), Error);
  EXPECT_THROW(a.expand({3, 3, 4}), Error);
}

TEST(Tensor, DtypeConversionAndCopy) {
  Tensor a = Tensor::from_vector<double>({1.7, -2.2, 0.0}, {3});
  EXPECT_EQ(a.to(DType::i64).to_vector<int64_t>(), (std::vector<int64_t>{1, -2, 0}));
  EXPECT_EQ(a.to(DType::b8).to_vector<uint8_t>(), (std::vector<uint8_t>{1, 1, 0}));
  Tensor b = Tensor::zeros({2, 3}, DType::f64);
  b.copy_(a);  // broadcast
  EXPECT_EQ(b.to_vector<double>()[4], -2.2);
  uint64_t v = b.version();
  b.fill_(3);
  EXPECT_GT(b.version(), v);
}

TEST(Tensor, RandomIsSeededAndPortable) {
  Generator g1(7), g2(7);
  Tensor a = randn({1000}, g1), b = randn({1000}, g2);
  EXPECT_EQ(a.to_vector<float>(), b.to_vector<float>());
  std::vector<double> v = randn({20000}, g1, DType::f64).to_vector<double>();
  double m = 0, s = 0;
  for (double x : v) m += x;
  m /= double(v.size());
  for (double x : v) s += (x - m) * (x - m);
  s = std::sqrt(s / double(v.size()));
  EXPECT_NEAR(m, 0, 0.03);
  EXPECT_NEAR(s, 1, 0.03);
  // Recorded values: the generator must give these numbers on every machine.
  Generator g3(42);
  std::vector<double> r = rand({3}, g3, DType::f64).to_vector<double>();
  Generator g4(42);
  EXPECT_EQ(rand({3}, g4, DType::f64).to_vector<double>(), r);
  for (double x : r) EXPECT_TRUE(x >= 0 && x < 1);
}

TEST(Tensor, PrintingIsReadable) {
  std::ostringstream os;
  os << Tensor::arange(0, 6, 1, DType::f32).reshape({2, 3});
  EXPECT_EQ(os.str(), "Tensor[2, 3] float32 cpu\n[[0, 1, 2],\n [3, 4, 5]]");
}

TEST(Allocator, CachingReusesBlocksAndEmptiesCache) {
  int allocs = 0, frees = 0;
  CachingAllocator a([&](size_t n) { ++allocs; return std::malloc(n); }, [&](void* p) { ++frees; std::free(p); });
  void* p = a.allocate(1000);
  a.release(p);
  void* q = a.allocate(900);  // same 1024-byte class: served from cache
  EXPECT_EQ(p, q);
  EXPECT_EQ(allocs, 1);
  EXPECT_EQ(a.stats().num_cache_hits, 1u);
  void* r = a.allocate(3 << 20);  // large class: 4 MiB
  EXPECT_EQ(a.stats().allocated_bytes, 1024u + (4u << 20));
  a.release(q);
  a.release(r);
  EXPECT_EQ(a.stats().cached_bytes, 1024u + (4u << 20));
  a.empty_cache();
  EXPECT_EQ(frees, 2);
  EXPECT_EQ(a.stats().cached_bytes, 0u);
  EXPECT_EQ(a.stats().peak_allocated_bytes, 1024u + (4u << 20));
}

// A large request takes the smallest cached block of up to 1.25x its class; beyond the cache's bound a
// released block makes room by giving the longest-cached blocks back (a block larger than the bound
// goes back itself).
TEST(Allocator, BestFitAndBoundedCache) {
  int allocs = 0, frees = 0;
  CachingAllocator a([&](size_t n) { ++allocs; return std::malloc(n); }, [&](void* p) { ++frees; std::free(p); },
                     size_t(12) << 20);
  void* big = a.allocate(10u << 20);  // 10 MiB class
  a.release(big);
  void* q = a.allocate(9u << 20);  // 10 MiB <= 1.25 x 9 MiB (rounded to 10): reused
  EXPECT_EQ(q, big);
  EXPECT_EQ(allocs, 1);
  a.release(q);
  void* r = a.allocate(6u << 20);  // 10 MiB > 1.25 x 6 MiB: a new block
  EXPECT_NE(r, big);
  EXPECT_EQ(allocs, 2);
  EXPECT_EQ(a.stats().cached_bytes, size_t(10) << 20);
  a.release(r);  // 10 + 6 MiB would exceed the 12 MiB bound: the older 10 MiB block goes back
  EXPECT_EQ(frees, 1);
  EXPECT_EQ(a.stats().cached_bytes, size_t(6) << 20);
  EXPECT_EQ(a.stats().allocated_bytes, 0u);
  EXPECT_EQ(a.allocate(6u << 20), r);  // the one kept is the newest
  a.release(r);
  void* s = a.allocate(512);  // small classes fit exactly only
  a.release(s);
  EXPECT_EQ(a.stats().cached_bytes, (size_t(6) << 20) + 512);
  void* huge = a.allocate(14u << 20);  // larger than the bound: straight back, the cache untouched
  a.release(huge);
  EXPECT_EQ(frees, 2);
  EXPECT_EQ(a.stats().cached_bytes, (size_t(6) << 20) + 512);
}

// Eviction follows release order, and a block reused from the cache and released again counts as
// released then (its earlier entry is stale).
TEST(Allocator, EvictsTheLongestCachedBlocksFirst) {
  std::vector<void*> freed;
  CachingAllocator a([&](size_t n) { return std::malloc(n); }, [&](void* p) { freed.push_back(p); std::free(p); },
                     size_t(6) << 20);
  void* x = a.allocate(2u << 20);
  void* y = a.allocate(2u << 20);
  void* z = a.allocate(2u << 20);
  a.release(x), a.release(y), a.release(z);  // order x, y, z; 6 MiB cached
  void* again = a.allocate(2u << 20);        // the last of the class: z
  ASSERT_EQ(again, z);
  a.release(z);                              // now x, y, z(again)
  void* w = a.allocate(4u << 20);            // no cached block of 4-5 MiB: a new one
  a.release(w);                              // 6 + 4 > 6: x and y go back, in that order
  ASSERT_EQ(freed.size(), 2u);
  EXPECT_EQ(freed[0], x);
  EXPECT_EQ(freed[1], y);
  EXPECT_EQ(a.stats().cached_bytes, size_t(6) << 20);
  void* z2 = a.allocate(2u << 20);
  void* w2 = a.allocate(4u << 20);
  EXPECT_EQ(z2, z);
  EXPECT_EQ(w2, w);
  a.release(z2), a.release(w2);  // live blocks stay the owner's: the destructor frees the cached ones
}

TEST(Tensor, CudaRoundTrip) {
  VPS_REQUIRE_CUDA();
  Tensor a = Tensor::arange(0, 10, 1, DType::f32).reshape({2, 5});
  Tensor g = a.to(cuda_device()).permute({1, 0}).contiguous();
  EXPECT_EQ(g.device(), cuda_device());
  EXPECT_EQ(g.cpu().to_vector<float>(), a.permute({1, 0}).contiguous().to_vector<float>());
  EXPECT_GT(cuda_allocator_stats().allocated_bytes, 0u);
}

TEST(Allocator, LargeHostBlocksAreCachedAndReused) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "host blocks are not cached under AddressSanitizer (DEBUG=1)";
#endif
  AllocatorStats before = host_allocator_stats();
  { Tensor a = Tensor::empty({1 << 19}, DType::f32); }  // 2 MiB, back to the cache
  { Tensor b = Tensor::empty({1 << 19}, DType::f32); }  // same size class: a cache hit
  AllocatorStats after = host_allocator_stats();
  EXPECT_GE(after.num_cache_hits, before.num_cache_hits + 1);
  EXPECT_GE(after.cached_bytes, size_t(2) << 20);
  host_empty_cache();
  EXPECT_EQ(host_allocator_stats().cached_bytes, 0u);
}
