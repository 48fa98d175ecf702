# neuroca: `make dev` starts a dev node, `make test` builds and runs the test suite.
BUILD_DIR ?= build
JOBS ?= 2
CMAKE_FLAGS ?=

.PHONY: all deps build dev test bench clean format

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

format:
	find actors bench cluster config runtime sdk storage tests tools examples -name '*.?pp' | xargs clang-format -i

clean:
	rm -rf $(BUILD_DIR)
