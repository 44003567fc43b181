# The top-level Makefile only wraps meson: `make`, `make check`,
# `make demo`, `make bench`, `make install`. Everything else is meson.
BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
PREFIX     ?= /usr/local
MESON_OPTS ?=

.PHONY: all deps build check check-asan lint demo bench install fuzz clean

all: build

deps:
	@sh scripts/install-deps

$(BUILD)/build.ninja:
	meson setup $(BUILD) --werror $(MESON_OPTS)

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

# Every test process runs with PAWL_TEST_SESSION=$(CHECK_ID) and
# TMPDIR=/tmp/$(CHECK_ID), so that scripts/check-leftovers can prove,
# after the suite and whatever its outcome, that nothing it started still
# runs. Timeouts are the tests' own times a multiplier, for margin on two
# busy cores (more under the sanitizers).
ifeq ($(origin CHECK_ID),undefined)
CHECK_ID := pawlcheck-$(shell date +%s)-$(shell od -An -N4 -tx4 /dev/urandom | tr -d ' ')
endif
CHECK_ENV  = PAWL_TEST_SESSION=$(CHECK_ID) TMPDIR=/tmp/$(CHECK_ID)

# The whole suite: lint, unit tests, fuzz corpus replay, integration tests
# and packaging in the normal build, then the unit tests, the corpus replay
# and the integration tests again with every program built under
# AddressSanitizer and UndefinedBehaviorSanitizer; then the check that no
# test process outlived the suite.
check: build
	sh scripts/lint
	mkdir -p /tmp/$(CHECK_ID) && chmod 1777 /tmp/$(CHECK_ID)
	$(CHECK_ENV) meson test -C $(BUILD) --print-errorlogs --num-processes 2 \
		--timeout-multiplier 2 || { sh scripts/check-leftovers $(CHECK_ID); exit 1; }
	$(MAKE) --no-print-directory check-asan CHECK_ID=$(CHECK_ID) || \
		{ sh scripts/check-leftovers $(CHECK_ID); exit 1; }
	sh scripts/check-leftovers $(CHECK_ID)
	rm -rf /tmp/$(CHECK_ID)

$(ASAN_BUILD)/build.ninja:
	CC=clang-14 meson setup $(ASAN_BUILD) --werror -Dbuildtype=debug \
		-Db_sanitize=address,undefined -Db_lundef=false \
		-Dc_args='-fno-sanitize-recover=all -fno-omit-frame-pointer'

check-asan: deps $(ASAN_BUILD)/build.ninja
	ninja -C $(ASAN_BUILD)
	mkdir -p /tmp/$(CHECK_ID) && chmod 1777 /tmp/$(CHECK_ID)
	$(CHECK_ENV) ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		meson test -C $(ASAN_BUILD) --print-errorlogs --num-processes 2 --suite unit --suite fuzz \
		--suite integration --timeout-multiplier 3

$(FUZZ_BUILD)/build.ninja:
	CC=clang-14 meson setup $(FUZZ_BUILD) -Dfuzz=true -Dbuildtype=debugoptimized \
		-Db_sanitize=address,undefined -Db_lundef=false

# Build the libFuzzer targets: ./build-fuzz/tests/fuzz/fuzz_json CORPUS
fuzz: deps $(FUZZ_BUILD)/build.ninja
	ninja -C $(FUZZ_BUILD)

demo: build
	sh scripts/demo

bench: build
	@sh scripts/install-deps --bench
	sh bench/run
	sh bench/slot_update.sh
	sh bench/delta_pairs.sh

# `make install PREFIX=/usr DESTDIR=/tmp/stage` stages a tree for packaging
# (debian/rules does the same through dh). PREFIX is stored in $(BUILD).
install: build
	meson configure $(BUILD) -Dprefix=$(PREFIX)
	DESTDIR="$(DESTDIR)" meson install -C $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
