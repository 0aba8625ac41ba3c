# The two commands of the quick start are `make run` and `make test`.
BUILD ?= build
JOBS ?= $(shell nproc)
DATA ?= .skiff

.PHONY: setup configure build test check run bench fuzz clean format

setup:
	@bash scripts/setup.sh

$(BUILD)/build.ninja: CMakeLists.txt
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo

configure: setup $(BUILD)/build.ninja

build: configure
	cmake --build $(BUILD) -j $(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 600
	@bash scripts/check.sh

check:
	@bash scripts/check.sh

run: build
	bash scripts/run.sh $(BUILD)/skiff $(DATA)

bench: build
	bash scripts/bench.sh $(BUILD)

fuzz:
	bash scripts/fuzz.sh

format:
	clang-format -i $$(git ls-files '*.cc' '*.h')

clean:
	rm -rf $(BUILD) build-fuzz
