# The two commands of the quick start are `make run` and `make test`.
BUILD ?= build
JOBS ?= $(shell nproc)
DATA ?= .skiff

.PHONY: setup configure build test check run bench fuzz clean format \
	build-asan test-asan build-tsan test-tsan

# Sanitizer builds of the unit and integration tests, each in its own build dir
# (CMakeLists.txt: SKIFF_SANITIZE). The runtime options make every finding fail
# its test; scripts/sanitizers/ holds the suppressions, each saying why.
ASAN_BUILD ?= build-asan
TSAN_BUILD ?= build-tsan
SAN_DIR := $(CURDIR)/scripts/sanitizers
ASAN_ENV := ASAN_OPTIONS=detect_leaks=1:check_initialization_order=1:strict_init_order=1 \
	LSAN_OPTIONS=suppressions=$(SAN_DIR)/lsan.supp \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# The rollout property test is single-threaded pure logic: TSan finds nothing
# there that 200 seeds do not show, and 2,000 take minutes under it.
TSAN_ENV := TSAN_OPTIONS=second_deadlock_stack=1:suppressions=$(SAN_DIR)/tsan.supp \
	SKIFF_ROLLOUT_SEEDS=200

setup:
	@bash scripts/setup.sh

$(BUILD)/build.ninja: CMakeLists.txt
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSKIFF_UNITY=ON

configure: setup $(BUILD)/build.ninja

build: configure
	cmake --build $(BUILD) -j $(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 600
	@bash scripts/check.sh

check:
	@bash scripts/check.sh

$(ASAN_BUILD)/build.ninja: CMakeLists.txt
	cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSKIFF_SANITIZE=address,undefined

build-asan: setup $(ASAN_BUILD)/build.ninja
	cmake --build $(ASAN_BUILD) -j $(JOBS)

test-asan: build-asan
	cd $(ASAN_BUILD) && $(ASAN_ENV) ctest --output-on-failure -j $(JOBS) --timeout 600

$(TSAN_BUILD)/build.ninja: CMakeLists.txt
	cmake -S . -B $(TSAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSKIFF_SANITIZE=thread

build-tsan: setup $(TSAN_BUILD)/build.ninja
	cmake --build $(TSAN_BUILD) -j $(JOBS)

# setarch -R: without address space randomisation, since ThreadSanitizer's
# fixed shadow layout fails ("unexpected memory mapping") on kernels that
# randomise more bits (vm.mmap_rnd_bits = 32).
test-tsan: build-tsan
	cd $(TSAN_BUILD) && $(TSAN_ENV) setarch $$(uname -m) -R ctest --output-on-failure -j $(JOBS) --timeout 600

run: build
	bash scripts/run.sh $(BUILD)/skiff $(DATA)

bench: build
	bash scripts/bench.sh $(BUILD)

fuzz:
	bash scripts/fuzz.sh

format:
	clang-format -i $$(git ls-files '*.cc' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD) build-fuzz
