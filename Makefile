# SPDX-License-Identifier: GPL-2.0-or-later
#
#   make              build into build/
#   make check        install what is missing, build, run every test (unit, KVM, network,
#                     fuzz corpus, bounded fuzzing)
#   make demo         boot the test guest and show what it does
#   make check-linux  the Debian-kernel lane (minutes; not part of make check)
#   make bench        benchmarks, tables and plots in build/bench/
#   make fuzz         run every fuzz target for FUZZ_SECONDS (default 60) in a clang build

BUILD ?= build
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
CHECK_FUZZ_SECONDS ?= 20
MESON_TEST_ARGS ?=

.PHONY: all deps check check-unit check-kvm check-fuzz demo check-linux bench fuzz format format-check \
        clean distclean

all: $(BUILD)/build.ninja
	ninja -C $(BUILD)

$(BUILD)/build.ninja:
	./configure --builddir=$(BUILD)

deps:
	scripts/install-deps.sh

check: deps
	$(MAKE) format-check
	$(MAKE) all
	meson test -C $(BUILD) --print-errorlogs $(MESON_TEST_ARGS)
	$(MAKE) check-fuzz FUZZ_SECONDS=$(CHECK_FUZZ_SECONDS)

check-unit: all
	meson test -C $(BUILD) --print-errorlogs --suite unit

check-kvm: all
	meson test -C $(BUILD) --print-errorlogs --suite kvm

check-fuzz: deps
	@if [ ! -f $(FUZZ_BUILD)/build.ninja ]; then \
	  ./configure --builddir=$(FUZZ_BUILD) --cc=clang --cxx=clang++ --enable-fuzzing \
	    --disable-test-guest; fi
	ninja -C $(FUZZ_BUILD) fuzz-targets
	scripts/run-fuzzers.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

fuzz: check-fuzz

demo: deps
	$(MAKE) all
	scripts/demo.sh $(BUILD)

check-linux:
	scripts/install-deps.sh --linux
	$(MAKE) all
	scripts/linux-guest/check-linux.sh $(BUILD)/colovm

bench: deps
	$(MAKE) all
	scripts/bench.sh $(BUILD)

format:
	git ls-files '*.cc' '*.h' '*.c' | xargs clang-format -i

format-check:
	git ls-files '*.cc' '*.h' '*.c' | xargs clang-format --dry-run --Werror

clean:
	-ninja -C $(BUILD) clean

distclean:
	rm -rf $(BUILD) $(FUZZ_BUILD)
