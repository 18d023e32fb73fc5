// One libFuzzer binary per reader of fuzz/targets.h, chosen at build time (-DVPS_FUZZ_TARGET=png ...).
// A clean refusal is vps::Error; any other exception escaping the reader aborts, so the fuzzer
// reports it like a crash, a sanitizer finding or a leak.
#include <cstdio>
#include <cstdlib>
#include <exception>

#include "fuzz/targets.h"

#ifndef VPS_FUZZ_TARGET
#error "build with -DVPS_FUZZ_TARGET=<name of a function in fuzz/targets.h>"
#endif

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    vps::fuzz::VPS_FUZZ_TARGET(data, size);
  } catch (const vps::Error&) {
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz: a non-vps exception escaped the reader: %s\n", e.what());
    std::abort();
  }
  return 0;
}
