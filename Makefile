# Thin wrapper: install what is missing (Debian), build, run, test.
#   make run    dev-mongo (unless MONGODB_URI is set) + tenantrtd, until Ctrl-C
#   make demo   the same with the embedded demo workload (tenantrt-demo)
#   make test   the whole suite through ctest (tests start their own dev-mongo)
#   make bench  tenantload comparison + microbenchmarks -> bench/REPORT.md
#   make soak   10 min of steady through tenantrtd -> bench/SOAK.md (not in CI)
#   make test-asan / test-tsan / fuzz   sanitizer suites and libFuzzer targets (CI runs them)

BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)
CONFIG ?= config/examples/dev.json

DEB_PACKAGES := cmake make g++ pkg-config libcaf-dev libmongoc-dev libbson-dev \
  nlohmann-json3-dev libspdlog-dev libfmt-dev libgtest-dev libgmock-dev \
  libcli11-dev prometheus-cpp-dev python3-mockupdb python3-mongomock python3-pymongo \
  libbenchmark-dev clang libclang-rt-14-dev

.PHONY: deps configure build run demo test test-asan test-tsan fuzz bench soak clean

deps:
	@tools/scripts/install-deps.sh $(DEB_PACKAGES)

# The microbenchmarks are built (with -Werror) and smoke-run by `make test`
# too, so bench code cannot rot unseen.
configure: deps
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DTENANTRT_BENCH=ON

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

# Only what they run: the daemon and tenantctl, or the demo.
run: configure
	cmake --build $(BUILD_DIR) -j $(JOBS) --target tenantrtd tenantctl
	tools/scripts/run-dev.sh $(BUILD_DIR) $(CONFIG) daemon

demo: configure
	cmake --build $(BUILD_DIR) -j $(JOBS) --target tenantrt-demo
	tools/scripts/run-dev.sh $(BUILD_DIR) $(CONFIG) demo

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j 2

test-asan: deps
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DTENANTRT_SANITIZE=address,undefined
	cmake --build build-asan -j $(JOBS)
	# A small quarantine, returned to the OS: the hostile tests bound the
	# daemon's RSS, and ASan's default 256 MB quarantine would count as growth.
	cd build-asan && \
	  ASAN_OPTIONS=detect_leaks=1:quarantine_size_mb=8:thread_local_quarantine_size_kb=64:allocator_release_to_os_interval_ms=100 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:suppressions=$(CURDIR)/tests/sanitizers/ubsan.supp \
	  LSAN_OPTIONS=suppressions=$(CURDIR)/tests/sanitizers/lsan.supp \
	  ctest --output-on-failure -j 2

# ThreadSanitizer on every suite labelled tsan (tests/CMakeLists.txt says
# which are not, and why: those that run CAF's real scheduler, whose
# uninstrumented library makes every message hand-off look like a race).
test-tsan: deps
	cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTENANTRT_SANITIZE=thread
	cmake --build build-tsan -j $(JOBS) --target tsan_tests
	cd build-tsan && \
	  TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$(CURDIR)/tests/sanitizers/tsan.supp" \
	  ctest --output-on-failure -j 2 -L '^tsan$$'

# libFuzzer targets (clang) for FUZZ_SECONDS each on a copy of tests/fuzz/corpus.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := control_protocol config_loader tenant_naming
fuzz: deps
	cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
	  -DTENANTRT_FUZZ=ON
	cmake --build build-fuzz -j $(JOBS) --target $(addprefix fuzz_,$(FUZZ_TARGETS))
	tests/fuzz/run.sh $(CURDIR)/build-fuzz $(CURDIR) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# Only what bench/run.sh runs (not the test suite); the microbenchmarks when
# their sources exist.
BENCH_TARGETS := tenantload tenantrtd \
  $(if $(wildcard bench/CMakeLists.txt),registry_acquire_bench idle_tenant_memory)
bench: deps
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DTENANTRT_BENCH=ON
	cmake --build $(BUILD_DIR) -j $(JOBS) --target $(BENCH_TARGETS)
	bench/run.sh --strict $(BUILD_DIR)

# Nightly-style, not in CI: SOAK_SECONDS (600) of `steady` through tenantrtd;
# bench/SOAK.md gets the daemon's RSS and fd slopes, and it fails if they grow.
soak: build
	tools/scripts/soak.sh $(BUILD_DIR)

clean:
	rm -rf $(BUILD_DIR) build-asan build-tsan build-fuzz
