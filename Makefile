# The two commands of the README: `make run` and `make test`. Everything else is CMake.
BUILD ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)
CMAKE_ARGS ?=
# make test-compat: the Unbound versions the module is tested against, and where their release
# tarballs are (CI clones the repository beside a copy of shared/). A version without a tarball
# there is built from Debian's source package (1.17.1 on Debian 12).
COMPAT_VERSIONS ?= 1.17.1 1.22.0 1.26.0
UNBOUND_RELEASES ?= ../shared/unbound
# make fuzz: how long each fuzz target runs (seconds).
FUZZ_SECONDS ?= 60
# make soak: how long the soak runs under load (seconds).
SOAK_SECONDS ?= 600
# make run: the demo Unbound's port and its local upstream's (NSD), both on 127.0.0.1.
PORT ?= 5353
UPSTREAM_PORT ?= 5300
CONFIGURE = JOBS=$(JOBS) cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_ARGS) >/dev/null

.PHONY: all deps configure build run test fuzz fuzz-smoke test-compat test-asan test-tsan soak test-package package bench estimation-table clean

all: build

deps:
	@scripts/install-deps.sh

configure: deps
	@$(CONFIGURE)

build: configure
	@cmake --build $(BUILD) -j$(JOBS)

# Only what running needs: the packages to build and serve (no test or benchmark tools), and
# the CLI, the module and Unbound (no tests).
run:
	@scripts/install-deps.sh --run
	@$(CONFIGURE)
	@cmake --build $(BUILD) -j$(JOBS) --target dnsverdict dnsverdict_module
	@PORT=$(PORT) UPSTREAM_PORT=$(UPSTREAM_PORT) scripts/run.sh $(BUILD)

test: build
	@ctest --test-dir $(BUILD) --output-on-failure -j2 --timeout 900
	@$(MAKE) --no-print-directory fuzz-smoke

# The libFuzzer targets (tests/fuzz/, docs/hardening.md), built with clang in build-fuzz (the
# `fuzz` preset): fuzz-smoke replays each seed corpus and fuzzes each target for 3 s (part of
# `make test`: about 2 minutes with the clang build, 45 s once built); fuzz runs each for
# FUZZ_SECONDS and prints executions, coverage and crashes per target (not part of `make test`).
fuzz-smoke: deps
	@JOBS=$(JOBS) scripts/fuzz.sh smoke

fuzz: deps
	@JOBS=$(JOBS) FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/fuzz.sh run

# The module built against each of COMPAT_VERSIONS (build-compat/<version>, its own Unbound
# each) and the integration tests run on each; a summary at the end. Reuses the Unbound of
# `make test`'s build for the version it is (Debian's 1.17.1). Not part of `make test`.
test-compat: deps
	@BUILD=$(BUILD) BUILD_TYPE=$(BUILD_TYPE) JOBS=$(JOBS) scripts/test-compat.sh $(UNBOUND_RELEASES) $(COMPAT_VERSIONS)

# Every test again with AddressSanitizer + UBSan: unit tests instrumented, and the module
# instrumented inside the real Unbound (the runtime preloaded into Unbound only). About
# twice the time of `make test`: a second build. Not part of `make test`.
test-asan: build
	@cmake --preset asan >/dev/null
	@cmake --build --preset asan -j$(JOBS)
	@ctest --preset asan -j2 --timeout 900

# The threaded unit tests and the integration tests that swap stores under load, reload,
# flush stats and write the hit log, with ThreadSanitizer (build-tsan, the `tsan` preset): the
# module instrumented inside the real Unbound, the runtime preloaded into Unbound only (it
# must be there from the process's start); tests/tsan.supp holds the suppressions. GCC 12's
# TSan needs vm.mmap_rnd_bits <= 28 (28 here): on a kernel with more, `setarch -R make
# test-tsan`. The tests take 11 minutes one after the other; docs/hardening.md. Not part of
# `make test`.
test-tsan: deps
	@cmake --preset tsan >/dev/null
	@cmake --build --preset tsan -j$(JOBS)
	@ctest --preset tsan -j2 --timeout 1800

# dnsverdict's soak (tests/integration/soak_test.py, docs/hardening.md): SOAK_SECONDS of
# dnsperf load against Unbound with the module while stores are published every 5 s, the hit
# log rotated every 30 s with packaging/logrotate, Unbound reloaded every 2 minutes and stats
# flushed; checks crashes, SERVFAIL, memory, descriptors and hit-log lines at the end.
# `make test` runs it for 60 s (integration.soak).
soak: build
	@set -a && . $(BUILD)/tests/integration.env && set +a && \
	  python3 -W ignore tests/integration/soak_test.py --seconds $(SOAK_SECONDS)

# Debian packages into build-package/debs/: Debian's unbound rebuilt with the dynlib module
# (once; later runs reuse it) and dnsverdict built against it (docs/operations.md).
package: deps
	@JOBS=$(JOBS) scripts/package.sh build-package

# The scenario table of docs/estimation.md: simulated populations with known truth written as
# Unbound logs and estimated by the CLI (scripts/estimation-scenarios.py); about a minute.
estimation-table: configure
	@cmake --build $(BUILD) -j$(JOBS) --target dnsverdict device_scenarios
	@scripts/estimation-scenarios.py --build $(BUILD) --update docs/estimation.md

# make package, then the packages installed on this machine, run (Unbound on loopback) and
# purged (scripts/test-package.sh). Needs root and a machine without unbound installed.
test-package: package
	@scripts/test-package.sh build-package/debs

bench: build
	@scripts/bench.sh $(BUILD)

clean:
	rm -rf $(BUILD) build-asan build-tsan build-debug build-compat build-package build-fuzz
