# neuroca: `make dev` starts a dev node, `make test` builds and runs the test suite.
BUILD_DIR ?= build
JOBS ?= 2
CMAKE_FLAGS ?=

# make fuzz: libFuzzer (clang) on every target for FUZZ_SECONDS each; make test-asan: the whole
# suite built with AddressSanitizer and UndefinedBehaviorSanitizer (docs/security.md).
FUZZ_DIR ?= build-fuzz
FUZZ_SECONDS ?= 60
ASAN_DIR ?= build-asan

.PHONY: all deps build dev test bench clean format fuzz test-asan

all: build

deps:
	@bash scripts/install-deps

$(BUILD_DIR)/build.ninja:
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)

build: deps $(BUILD_DIR)/build.ninja
	cmake --build $(BUILD_DIR) -j $(JOBS)

dev: build
	$(BUILD_DIR)/bin/nca-node --dev

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) --timeout 600

bench: build
	$(BUILD_DIR)/bin/nca-bench recall --n 100000 --dim 384

fuzz: deps
	cmake -S . -B $(FUZZ_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCMAKE_CXX_COMPILER=clang++ -DNCA_FUZZ=ON
	cmake --build $(FUZZ_DIR) -j $(JOBS) --target nca-fuzz-request nca-fuzz-http \
	  nca-fuzz-config nca-fuzz-records
	bash scripts/run-fuzzers $(FUZZ_DIR) $(FUZZ_SECONDS)

test-asan: deps
	cmake -S . -B $(ASAN_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" -DNCA_SANITIZE=ON
	cmake --build $(ASAN_DIR) -j $(JOBS)
	cd $(ASAN_DIR) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j $(JOBS) --timeout 1200

format:
	find actors bench cluster config runtime sdk storage tests tools examples -name '*.?pp' | xargs clang-format -i

clean:
	rm -rf $(BUILD_DIR)
