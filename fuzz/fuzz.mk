# libFuzzer targets for the file readers (included by the Makefile; needs the 'fuzz' group of
# scripts/deps.sh: clang, compiler-rt's libFuzzer, LLVM's OpenMP runtime).
#   make fuzz               build every target and run each for FUZZ_RUNS executions (default 1M)
#   make fuzz FUZZ_RUNS=N   another count;  make fuzz FUZZ_TARGETS="png npy"  some targets only
#   make fuzz-smoke         each target for a few seconds on its corpus (.ci/run)
# Seeds: fuzz/corpus/<target>/ (committed, from the test fixtures); inputs that once crashed a
# reader: fuzz/regressions/<target>/ (also replayed by `make test`). New inputs the fuzzer finds go
# to build/fuzz/corpus/<target>/, crashes to build/fuzz/crashes/<target>/.
FUZZ_CXX     ?= clang++
FUZZ_BUILD   := build/fuzz
FUZZ_RUNS    ?= 1000000
FUZZ_TARGETS ?= png jpeg safetensors npy pth unpickler pan_json cvps_json pair_flow train_config
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_CXXFLAGS:= -std=c++17 -O1 -g -fno-omit-frame-pointer -fopenmp $(FUZZ_SAN) -fsanitize=fuzzer-no-link \
                -DVPS_CUDA=0 -DVPS_CUDNN=0 -DVPS_DNNL=0 $(INCS) -MMD -MP -Wno-unknown-pragmas -Wno-pass-failed -Wno-unknown-warning-option
# OpenBLAS's OpenMP build brings GCC's libgomp beside clang's libomp; the readers never reach a GEMM,
# so libgomp stays idle (it starts threads at a first parallel region only).
FUZZ_LDLIBS  := -fopenmp $(OPENBLAS_LIB) -lpng -ljpeg -lz -lpthread
# What the readers need of the library (no layers or commands; of models and train, only the config
# readers).
FUZZ_LIB_SRC := $(call find_src,tensor autograd ops sample data eval) models/config_reader.cpp models/registry.cpp \
                train/run_config.cpp
FUZZ_LIB_OBJ := $(patsubst %,$(FUZZ_BUILD)/%.o,$(FUZZ_LIB_SRC))
FUZZ_BINS    := $(patsubst %,$(FUZZ_BUILD)/fuzz_%,$(FUZZ_TARGETS))
FUZZ_DEPS_OK := build/.deps-fuzz-ok

.PHONY: fuzz fuzz-build fuzz-smoke
$(FUZZ_DEPS_OK): scripts/deps.sh
	@bash scripts/deps.sh build fuzz
	@mkdir -p build && touch $@

$(FUZZ_BUILD)/%.cpp.o: %.cpp | $(FUZZ_DEPS_OK)
	@mkdir -p $(dir $@)
	$(FUZZ_CXX) $(FUZZ_CXXFLAGS) -c $< -o $@
$(FUZZ_BUILD)/%.cu.o: %.cu | $(FUZZ_DEPS_OK)
	@mkdir -p $(dir $@)
	$(FUZZ_CXX) $(FUZZ_CXXFLAGS) -x c++ -c $< -o $@

$(FUZZ_BUILD)/libvps_fuzz.a: $(FUZZ_LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(FUZZ_BUILD)/fuzz_%: fuzz/fuzz_target.cpp fuzz/targets.h $(FUZZ_BUILD)/libvps_fuzz.a
	$(FUZZ_CXX) $(FUZZ_CXXFLAGS) -fsanitize=fuzzer -DVPS_FUZZ_TARGET=$* fuzz/fuzz_target.cpp \
	  $(FUZZ_BUILD)/libvps_fuzz.a $(FUZZ_LDLIBS) -o $@

fuzz-build: $(FUZZ_BINS)

fuzz: fuzz-build
	@bash fuzz/run.sh $(FUZZ_BUILD) "$(FUZZ_TARGETS)" -runs=$(FUZZ_RUNS)

fuzz-smoke: fuzz-build
	@bash fuzz/run.sh $(FUZZ_BUILD) "$(FUZZ_TARGETS)" -max_total_time=5

-include $(FUZZ_LIB_OBJ:.o=.d)
