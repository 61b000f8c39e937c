# Thin wrapper: install what is missing (Debian), build, run, test.
#   make run    dev-mongo (unless MONGODB_URI is set) + tenantrtd, until Ctrl-C
#   make demo   the same with the embedded demo workload (tenantrt-demo)
#   make test   the whole suite through ctest (tests start their own dev-mongo)
#   make bench  benchmarks (filled by the load-test issue)

BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)
CONFIG ?= config/examples/dev.json

DEB_PACKAGES := cmake make g++ pkg-config libcaf-dev libmongoc-dev libbson-dev \
  nlohmann-json3-dev libspdlog-dev libfmt-dev libgtest-dev libgmock-dev \
  libcli11-dev prometheus-cpp-dev python3-mockupdb python3-mongomock python3-pymongo \
  libbenchmark-dev clang libclang-rt-14-dev

.PHONY: deps build run demo test test-asan bench clean

deps:
	@tools/scripts/install-deps.sh $(DEB_PACKAGES)

build: deps
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE)
	cmake --build $(BUILD_DIR) -j $(JOBS)

run: build
	tools/scripts/run-dev.sh $(BUILD_DIR) $(CONFIG) daemon

demo: build
	tools/scripts/run-dev.sh $(BUILD_DIR) $(CONFIG) demo

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j 2

test-asan: deps
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DTENANTRT_SANITIZE=address,undefined
	cmake --build build-asan -j $(JOBS)
	cd build-asan && ASAN_OPTIONS=detect_leaks=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:suppressions=$(CURDIR)/tests/sanitizers/ubsan.supp \
	  ctest --output-on-failure -j 2

bench: build
	@echo "make bench: no benchmark yet; the load-test issue (tenantload) fills this target."

clean:
	rm -rf $(BUILD_DIR) build-asan
