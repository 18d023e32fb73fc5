# vps build. Configurations: CUDA=auto|0|1  CUDNN=auto|0|1  DNNL=1|0  MPI=auto|0|1  DEBUG=0|1  ARCH=90
# One object tree per configuration under build/<config>/; header dependencies tracked via -MMD.
CUDA  ?= auto
CUDNN ?= auto
MPI   ?= auto
DEBUG ?= 0
ARCH  ?= 90
CUDA_HOME ?= /usr/local/cuda
comma := ,

NVCC := $(shell command -v nvcc 2>/dev/null || ( [ -x $(CUDA_HOME)/bin/nvcc ] && echo $(CUDA_HOME)/bin/nvcc ))
ifeq ($(CUDA),auto)
  override CUDA := $(if $(NVCC),1,0)
endif
ifeq ($(CUDA),1)
  ifeq ($(NVCC),)
    $(error CUDA=1 but nvcc was not found (looked on PATH and in $(CUDA_HOME)/bin))
  endif
  ifeq ($(CUDNN),auto)
    override CUDNN := $(if $(wildcard $(CUDA_HOME)/include/cudnn.h /usr/include/cudnn.h /usr/local/include/cudnn.h),1,0)
  endif
else
  override CUDNN := 0
endif

CONFIG := $(if $(filter 1,$(CUDA)),cuda$(if $(filter 1,$(CUDNN)),-cudnn,),cpu)$(if $(filter 1,$(DEBUG)),-debug,)
BUILD  := build/$(CONFIG)

CXX      ?= g++
WARN     := -Wall -Wextra -Wno-unused-parameter
SANITIZE := -fsanitize=address,undefined
OPT_DEBUG:= -O1 -g $(SANITIZE) -fno-omit-frame-pointer
# CPU target: x86-64-v2 (SSE4.2) everywhere; hot row loops carry an AVX2/FMA clone picked at load
# time (target_clones), so the pinned numerics of the baseline stay and newer CPUs still gain.
HOST_ARCH:= -march=x86-64-v2
OPT_REL  := -O3 $(HOST_ARCH) -g1
OPT      := $(if $(filter 1,$(DEBUG)),$(OPT_DEBUG),$(OPT_REL))
DEFS     := -DVPS_CUDA=$(CUDA) -DVPS_CUDNN=$(CUDNN)
# OpenBLAS: Debian's OpenMP build (libopenblas-openmp-dev), found by its own directory rather than the
# libopenblas.so.0 alternative, which picks the pthread build wherever both are installed. vps runs
# OpenBLAS on one thread only (tensor/blas.cpp); the pthread build kept a pool of its own workers that
# spun for ~0.1 s after load on our cores (a 256^3 GEMM at process start: 8 ms instead of 0.15). The
# OpenMP build has no pool of its own, and unlike the serial one it locks its buffer allocator, which
# our concurrent single-threaded calls need.
OPENBLAS_DIR := /usr/lib/x86_64-linux-gnu/openblas-openmp
OPENBLAS_LIB := -L$(OPENBLAS_DIR) -Wl,-rpath,$(OPENBLAS_DIR) -lopenblas
INCS     := -I. -I/usr/include/x86_64-linux-gnu/openblas-openmp -I$(BUILD)/gen
CXXFLAGS := -std=c++17 -fopenmp $(WARN) $(OPT) $(DEFS) $(INCS) -MMD -MP
LDLIBS   := -fopenmp $(OPENBLAS_LIB) -lpng -ljpeg -lz -lprotobuf -lpthread
LDFLAGS  := $(if $(filter 1,$(DEBUG)),$(SANITIZE),)

ifeq ($(CUDA),1)
  CXXFLAGS += -I$(CUDA_HOME)/include
  # nvcc's host compiler gets the release flags of g++ too: the CPU closures of VPS_KERNEL bodies in
  # .cu files are compiled there (tensor/hd.h).
  # DEBUG=1: the host side of .cu files gets the sanitizers too (the CPU kernels are compiled there).
  NVHOST   := $(if $(filter 1,$(DEBUG)),-O1 -Xcompiler -g$(comma)-fsanitize=address$(comma)-fsanitize=undefined$(comma)-fno-omit-frame-pointer,-O3 -Xcompiler -g1$(comma)$(HOST_ARCH))
  NVFLAGS  := -std=c++17 $(NVHOST) --extended-lambda --expt-relaxed-constexpr \
              -gencode arch=compute_$(ARCH),code=sm_$(ARCH) $(DEFS) $(INCS) -MMD -MP \
              -Xcompiler -fopenmp,-Wall,-Wno-unused-parameter -diag-suppress 20012,20011,20014
  LDLIBS   += -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcudart -lcublas $(if $(filter 1,$(CUDNN)),-lcudnn,)
endif

# oneDNN (tensor/blas.cpp: float32 GEMM, bf16 matmul; layers/conv2d_dnnl.cpp: float32 input-layer and
# bf16 convs): on by default. Debian's libdnnl-dev is in the build group of scripts/deps.sh, which runs before anything compiles (build/.deps-ok) and stops the build when it
# cannot install it, so a build that compiles has it. DNNL=0 keeps OpenBLAS for float32 too (the two
# round differently). The objects that see VPS_DNNL are rebuilt when it changes.
DNNL ?= 1
ifeq ($(DNNL),1)
  CXXFLAGS += -DVPS_DNNL=1
  LDLIBS += -ldnnl
else
  CXXFLAGS += -DVPS_DNNL=0
endif
DNNL_STAMP := $(BUILD)/dnnl-$(DNNL).stamp
$(DNNL_STAMP):
	@mkdir -p $(dir $@) && rm -f $(BUILD)/dnnl-*.stamp && touch $@
$(BUILD)/tensor/blas.cpp.o $(BUILD)/layers/conv2d_dnnl.cpp.o: $(DNNL_STAMP)

# MPI (train/distributed*.cpp): auto = on when dpkg says Open MPI's development package is installed
# (as scripts/deps.sh decides); flags from mpicc (the C API: no -lmpi_cxx). NCCL needs CUDA and MPI (MPI bootstraps it).
ifeq ($(MPI),auto)
  override MPI := $(if $(filter ii,$(shell dpkg-query -W -f='$${db:Status-Abbrev}' libopenmpi-dev 2>/dev/null | cut -c1-2)),1,0)
endif
NCCL := $(if $(filter 1,$(CUDA)),$(MPI),0)
ifeq ($(MPI),1)
  CXXFLAGS += -DVPS_MPI=1 -DVPS_NCCL=$(NCCL) -DOMPI_SKIP_MPICXX=1 $(shell mpicc --showme:compile)
  LDLIBS   += $(shell mpicc --showme:link) $(if $(filter 1,$(NCCL)),-lnccl,)
else
  CXXFLAGS += -DVPS_MPI=0 -DVPS_NCCL=0
endif
# the objects that see VPS_MPI are rebuilt when MPI changes (the configuration name does not carry it)
MPI_STAMP := $(BUILD)/mpi-$(MPI).stamp
$(MPI_STAMP):
	@mkdir -p $(dir $@) && rm -f $(BUILD)/mpi-*.stamp && touch $@
$(patsubst %,$(BUILD)/%.o,$(wildcard train/distributed*.cpp)): $(MPI_STAMP)

LIB_DIRS := tensor autograd ops layers sample models losses train infer data eval report
# The subcommands (tools/cmd_*.cpp) are in the library too, so that the tests run them as a user
# does (vps::cli::run_main); the binary adds only tools/main.cpp.
# Sources are found recursively (a new subfolder such as models/flownet2/ or tests/<area>/ needs no edit).
find_src  = $(sort $(shell find $(1) \( -name '*.cpp' -o -name '*.cu' \) 2>/dev/null))
LIB_SRC  := $(call find_src,$(LIB_DIRS)) $(filter-out tools/main.cpp,$(call find_src,tools))
LIB_OBJ  := $(patsubst %,$(BUILD)/%.o,$(LIB_SRC))
TOOL_OBJ := $(BUILD)/tools/main.cpp.o
TEST_OBJ := $(patsubst %,$(BUILD)/%.o,$(call find_src,tests))
BENCH_OBJ:= $(patsubst %,$(BUILD)/%.o,$(call find_src,bench))
LIB      := $(BUILD)/libvps.a
DEPS_OK  := build/.deps-ok

.PHONY: all test bench bench-smoke gpu-check-dry clean demo ablation info report-check
all: $(BUILD)/vps $(BUILD)/vps_tests $(BUILD)/vps_bench info
	@ln -sfn $(CONFIG) build/current

info:
	@echo "vps: config=$(CONFIG) CUDA=$(CUDA) CUDNN=$(CUDNN) DNNL=$(DNNL) MPI=$(MPI) NCCL=$(NCCL) DEBUG=$(DEBUG) ARCH=sm_$(ARCH) nvcc=$(or $(NVCC),none)"

$(DEPS_OK): scripts/deps.sh
	@bash scripts/deps.sh build
	@mkdir -p build && touch $@

$(BUILD)/%.cpp.o: %.cpp | $(DEPS_OK)
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -c $< -o $@

# .cu files: nvcc when CUDA=1, otherwise the same source as plain C++ (one kernel body for both).
$(BUILD)/%.cu.o: %.cu | $(DEPS_OK)
	@mkdir -p $(dir $@)
ifeq ($(CUDA),1)
	$(NVCC) $(NVFLAGS) -c $< -o $@
else
	$(CXX) $(CXXFLAGS) -x c++ -c $< -o $@
endif

# TensorBoard event files (train/event_file.cpp): protoc (Debian's protobuf-compiler, scripts/deps.sh build)
# generates the C++ of train/proto/*.proto at build time into $(BUILD)/gen/, included as
# "train/proto/<name>.pb.h"; every object waits for the headers (their changes are then tracked by -MMD).
PROTO_SRC := $(wildcard train/proto/*.proto)
PROTO_CC  := $(patsubst %.proto,$(BUILD)/gen/%.pb.cc,$(PROTO_SRC))
PROTO_H   := $(PROTO_CC:.cc=.h)
PROTO_OBJ := $(PROTO_CC:.cc=.cc.o)
$(BUILD)/gen/%.pb.cc $(BUILD)/gen/%.pb.h: %.proto | $(DEPS_OK)
	@mkdir -p $(BUILD)/gen
	protoc --cpp_out=$(BUILD)/gen $<
$(BUILD)/gen/%.pb.cc.o: $(BUILD)/gen/%.pb.cc
	$(CXX) $(CXXFLAGS) -c $< -o $@
$(LIB_OBJ) $(TOOL_OBJ) $(TEST_OBJ) $(BENCH_OBJ): | $(PROTO_H)

$(LIB): $(LIB_OBJ) $(PROTO_OBJ)
	@rm -f $@
	ar rcs $@ $^

# Whole-archive so that self-registering subcommands and models are always linked in.
LINK_LIB := -Wl,--whole-archive $(LIB) -Wl,--no-whole-archive

$(BUILD)/vps: $(TOOL_OBJ) $(LIB)
	$(CXX) $(LDFLAGS) $(TOOL_OBJ) $(LINK_LIB) $(LDLIBS) -o $@

$(BUILD)/vps_tests: $(TEST_OBJ) $(LIB)
	$(CXX) $(LDFLAGS) $(TEST_OBJ) $(LINK_LIB) $(LDLIBS) -lgtest -o $@

$(BUILD)/vps_bench: $(BENCH_OBJ) $(LIB)
	$(CXX) $(LDFLAGS) $(BENCH_OBJ) $(LINK_LIB) $(LDLIBS) -o $@

# Tests run from the repository root (fixtures are found under tests/fixtures).
test: all
	$(BUILD)/vps_tests $(GTEST_ARGS)

bench: all $(BUILD)/vps_bench
	@bash bench/run.sh $(BUILD)

# Every bench script at tiny sizes, one repetition, PyTorch's side skipped where it is missing: proves
# the scripts run (CI can afford it); the timings mean nothing.
bench-smoke: all $(BUILD)/vps_bench
	@BENCH_SMOKE=1 bash bench/run.sh $(BUILD)

# The dry run of the prepared GPU check (scripts/gpu_check.sh, docs/gpu.md): checks that everything
# the GPU run would use exists and takes its flags, the bench scripts it calls once on the CPU at tiny
# sizes; writes $(BUILD)/gpu-check-dry/summary.txt. On a GPU machine: bash scripts/gpu_check.sh.
gpu-check-dry: all
	@bash scripts/gpu_check.sh --dry-run --build $(BUILD) --out $(BUILD)/gpu-check-dry

demo: all
	@bash scripts/demo.sh $(BUILD)

# SiamTrack's ablation on the synthetic default (scripts/ablation.sh; ABL_ITERS, ABL_SEEDS, ... there)
ablation: all
	@bash scripts/ablation.sh $(BUILD)

# The report of `make demo` rendered by headless Chromium to a PNG, checked not to be blank
# (scripts/report_check.sh; Debian's chromium).
report-check:
	@bash scripts/report_check.sh $(or $(REPORT),out/demo/report/index.html)

clean:
	rm -rf build

include fuzz/fuzz.mk

-include $(LIB_OBJ:.o=.d) $(TOOL_OBJ:.o=.d) $(TEST_OBJ:.o=.d) $(BENCH_OBJ:.o=.d) $(PROTO_OBJ:.o=.d)
