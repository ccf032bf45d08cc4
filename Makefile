# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
#   make          build build/podtap
#   make run      install what is missing, build, start podtap (root)
#   make test     install what is missing, build, run every test
#   make unit     build and run the unit tests only (no installs, seconds)
#   make e2e SUITE=core   one end-to-end suite (tests/e2e/core.bats)
#   make fuzz     the HTTP parser under libFuzzer for FUZZ_SECONDS (60)
#   make test-kernels  the kernel check in qemu on each of KERNEL_PKGS
#   make bench    throughput/latency/CPU/RSS: no probe vs podtap vs in-process
#   make vmlinux  regenerate bpf/vmlinux/$(ARCH)/vmlinux.h from this kernel
#   make install  install build/podtap into $(DESTDIR)$(PREFIX)/bin
#
# V=1 shows full commands.

OUTPUT := build
CLANG ?= clang
BPFTOOL ?= bpftool
CC ?= cc
PREFIX ?= /usr/local
PKG_CONFIG ?= pkg-config

ARCH := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
VMLINUX_DIR := bpf/vmlinux/$(ARCH)
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo 0.1.0-dev)

ifeq ($(V),1)
Q :=
msg :=
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

# Debian packages: to build and run, and in addition to test.
BUILD_PKGS := clang llvm bpftool libbpf-dev libelf-dev zlib1g-dev \
	libmicrohttpd-dev libprotobuf-c-dev protobuf-c-compiler \
	libcurl4-openssl-dev libjson-c-dev ca-certificates pkg-config gcc make
TEST_PKGS := bats curl gunicorn python3-flask python3-requests \
	python3-prometheus-client hey wrk prometheus openssl iproute2 \
	netcat-openbsd procps jq strace util-linux busybox libclang-rt-14-dev \
	python3-uvicorn python3-httpx python3-aiohttp python3-gevent \
	python3-eventlet nginx-light haproxy nftables \
	qemu-system-x86 cpio \
	libcap2-bin golang-go golang-github-masterminds-sprig-dev \
	golang-k8s-sigs-yaml-dev golang-github-xeipuuv-gojsonschema-dev

# clang's own system include dirs, so asm/*.h resolve for the BPF target.
CLANG_BPF_SYS_INCLUDES := $(shell $(CLANG) -v -E - </dev/null 2>&1 \
	| sed -n '/<...> search starts here:/,/End of search list./{ s| \(/.*\)|-idirafter \1|p }')

BPF_CFLAGS := -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_$(ARCH) -Wall \
	-I$(VMLINUX_DIR) -Ibpf $(CLANG_BPF_SYS_INCLUDES)

CFLAGS ?= -O2 -g
CFLAGS += -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Wno-unused-parameter -Wno-format-truncation -Werror=implicit -Werror=incompatible-pointer-types \
	-MMD -MP -I$(OUTPUT) -Iuser -I.
LIBS := $(shell $(PKG_CONFIG) --libs libbpf libelf libmicrohttpd libprotobuf-c \
	libcurl zlib json-c 2>/dev/null || \
	echo -lbpf -lelf -lz -lmicrohttpd -lprotobuf-c -lcurl -ljson-c) \
	-lpthread -lm

# Every .c under user/ but main.c goes into a library: the daemon is main.c
# plus it, and each test links what it uses from it (no per-test lists).
# The unit tests link a second build of it with ASan and UBSan.
LIB_SRCS := $(filter-out user/daemon/main.c,$(wildcard user/*/*.c))
LIB_OBJS := $(patsubst %.c,$(OUTPUT)/%.o,$(LIB_SRCS)) $(OUTPUT)/otlp.pb-c.o
ASAN_OBJS := $(patsubst $(OUTPUT)/%,$(OUTPUT)/asan/%,$(LIB_OBJS))
LIBPODTAP := $(OUTPUT)/libpodtap.a
LIBPODTAP_ASAN := $(OUTPUT)/asan/libpodtap.a

UNIT_TESTS := $(patsubst tests/unit/%.c,$(OUTPUT)/tests/%,$(wildcard tests/unit/test_*.c))
UNIT_CFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer

.DELETE_ON_ERROR:
.PHONY: all run test unit e2e fuzz test-kernels bench deps deps-build deps-test vmlinux install clean FORCE

all: $(OUTPUT)/podtap

$(OUTPUT) $(OUTPUT)/tests:
	$(Q)mkdir -p $@

# The version, in a header rewritten only when it changes, so that exactly
# the objects that include it (tracked by -MMD) are rebuilt then.
$(OUTPUT)/podtap_version.h: FORCE | $(OUTPUT)
	$(Q)v='#define PODTAP_VERSION "$(VERSION)"'; \
	[ "$$(cat $@ 2>/dev/null)" = "$$v" ] || echo "$$v" > $@

$(LIB_OBJS) $(ASAN_OBJS) $(OUTPUT)/user/daemon/main.o: | $(OUTPUT)/podtap_version.h

# --- BPF ------------------------------------------------------------------

# Three objects, each named as its skeleton: podtap (socket syscalls),
# podtap_py (Python runtime hooks) and podtap_inject (trace context
# injection, --inject-trace-context), sharing maps through bpf/conn.bpf.h
# and the BPF<->user contract bpf/contract.h.
# -mcpu=v3 (32-bit jumps and ALU, Linux 5.1 and later; GKE runs 5.15 and
# later) makes fewer instructions for the verifier to walk (6.1's walks
# 21,467 of podtap_sys_exit). Rebuilt when the flags here change.
$(OUTPUT)/%.bpf.o: bpf/%.bpf.c Makefile | $(OUTPUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -MMD -MP -c $< -o $@

# The objects stay beside their skeletons, for bpftool and llvm-objdump.
.SECONDARY: $(OUTPUT)/podtap.bpf.o $(OUTPUT)/podtap_py.bpf.o \
	$(OUTPUT)/podtap_inject.bpf.o
$(OUTPUT)/%.skel.h: $(OUTPUT)/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $* > $@

# --- OTLP messages (protobuf-c over the project's own user/otel/otlp.proto)

$(OUTPUT)/otlp.pb-c.c $(OUTPUT)/otlp.pb-c.h &: user/otel/otlp.proto | $(OUTPUT)
	$(call msg,PROTOC-C,$@)
	$(Q)protoc-c --proto_path=user/otel --c_out=$(OUTPUT) $<

$(OUTPUT)/otlp.pb-c.o: $(OUTPUT)/otlp.pb-c.c
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(OUTPUT)/asan/otlp.pb-c.o: $(OUTPUT)/otlp.pb-c.c
	$(call msg,CC-ASAN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(UNIT_CFLAGS) -c $< -o $@

# --- daemon ---------------------------------------------------------------

# Generated headers, before the first build has dependency files.
$(foreach d,$(OUTPUT) $(OUTPUT)/asan,\
	$(eval $(d)/user/capture/capture.o: $(OUTPUT)/podtap.skel.h) \
	$(eval $(d)/user/python/python_hooks.o: $(OUTPUT)/podtap_py.skel.h) \
	$(eval $(d)/user/capture/trace_inject.o: $(OUTPUT)/podtap_inject.skel.h) \
	$(eval $(d)/user/otel/otlp_encoder.o: $(OUTPUT)/otlp.pb-c.h) \
	$(eval $(d)/user/otel/otlp_http.o: $(OUTPUT)/otlp.pb-c.h) \
	$(eval $(d)/user/otel/otlp_attrs.o: $(OUTPUT)/otlp.pb-c.h) \
	$(eval $(d)/user/otel/otlp_metrics_encoder.o: $(OUTPUT)/otlp.pb-c.h))

$(OUTPUT)/user/%.o: user/%.c
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(OUTPUT)/asan/user/%.o: user/%.c
	$(call msg,CC-ASAN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(UNIT_CFLAGS) -c $< -o $@

$(LIBPODTAP): $(LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(LIBPODTAP_ASAN): $(ASAN_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(OUTPUT)/podtap: $(OUTPUT)/user/daemon/main.o $(LIBPODTAP)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ $(LIBS) -o $@

# --- tests ----------------------------------------------------------------

# The sources and the library only: the -MMD dependency files add headers
# to these targets' prerequisites, and gcc would compile those on their own.
LINK_INPUTS = $(filter %.c %.a,$^)

$(OUTPUT)/tests/test_%: tests/unit/test_%.c $(LIBPODTAP_ASAN) | $(OUTPUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(UNIT_CFLAGS) $(LINK_INPUTS) $(LIBS) -o $@

$(OUTPUT)/tests/bpf_load: tests/root/bpf_load.c $(LIBPODTAP) | $(OUTPUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(LINK_INPUTS) $(LIBS) -o $@

# The HTTP parser under libFuzzer (clang's -fsanitize=fuzzer), with ASan
# and UBSan; seeded with real conversations (tests/fuzz/seeds.py).
$(OUTPUT)/tests/fuzz_http_parser: tests/fuzz/fuzz_http_parser.c \
		user/http/http_parser.c user/http/http_head.c | $(OUTPUT)/tests
	$(call msg,FUZZ-CC,$@)
	$(Q)$(CLANG) -g -O1 -D_GNU_SOURCE -Iuser \
		-fsanitize=fuzzer,address,undefined $^ -o $@

$(OUTPUT)/tests/fuzz-seeds: tests/fuzz/seeds.py | $(OUTPUT)/tests
	$(Q)rm -rf $@ && /usr/bin/python3 $< $@

# make fuzz [FUZZ_SECONDS=60]: runs the parser fuzzer that long; a crash
# leaves its input in build/tests/ and fails.
FUZZ_SECONDS ?= 60
fuzz: $(OUTPUT)/tests/fuzz_http_parser $(OUTPUT)/tests/fuzz-seeds
	$(Q)mkdir -p $(OUTPUT)/tests/fuzz-corpus
	$(Q)$(OUTPUT)/tests/fuzz_http_parser -max_total_time=$(FUZZ_SECONDS) \
		-print_final_stats=1 -dict=tests/fuzz/http.dict \
		-artifact_prefix=$(OUTPUT)/tests/ \
		$(OUTPUT)/tests/fuzz-corpus $(OUTPUT)/tests/fuzz-seeds

$(OUTPUT)/tests/exporter_driver: tests/otlp/exporter_driver.c $(LIBPODTAP) \
		| $(OUTPUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(LINK_INPUTS) $(LIBS) -o $@

# What the end-to-end suites run or read, beside build/podtap.
E2E_NEEDS := $(OUTPUT)/podtap $(OUTPUT)/tests/bpf_load \
	$(OUTPUT)/tests/exporter_driver tests/otlp/node_modules \
	$(OUTPUT)/tests/helm-render tests/helm/node_modules \
	tests/statsd/node_modules

test: deps $(UNIT_TESTS) $(E2E_NEEDS) $(OUTPUT)/tests/fuzz_http_parser \
		$(OUTPUT)/tests/fuzz-seeds
	$(Q)KERNEL_PKGS='$(KERNEL_PKGS)' tests/run.sh

# The developer loop: unit tests alone install nothing and take seconds.
unit: $(UNIT_TESTS)
	$(Q)failed=0; for t in $(UNIT_TESTS); do \
		out=$$($$t 2>&1) || failed=1; \
		printf '%s\n' "$$out" | grep -v '^ok - '; \
	done; [ $$failed = 0 ]

# One end-to-end suite: make e2e SUITE=core (tests/e2e/core.bats).
E2E_SUITES := $(patsubst tests/e2e/%.bats,%,$(wildcard tests/e2e/*.bats))
ifneq ($(filter e2e,$(MAKECMDGOALS)),)
ifeq ($(filter $(SUITE),$(E2E_SUITES)),)
$(error make e2e needs SUITE=<one of: $(E2E_SUITES)>, got '$(SUITE)')
endif
endif
e2e: deps $(E2E_NEEDS)
	$(Q)bats tests/e2e/$(SUITE).bats

# The OTLP test receiver decodes with the official schema (the protobufjs
# root that @opentelemetry/otlp-transformer ships), pinned by the lock file.
tests/otlp/node_modules: tests/otlp/package.json tests/otlp/package-lock.json
	$(call msg,NPM,$@)
	$(Q)npm ci --prefix tests/otlp --no-audit --no-fund --loglevel=error >/dev/null
	$(Q)touch $@

# A real statsd daemon (etsy's), pinned by the lock file, for statsd.bats.
tests/statsd/node_modules: tests/statsd/package.json tests/statsd/package-lock.json
	$(call msg,NPM,$@)
	$(Q)npm ci --prefix tests/statsd --no-audit --no-fund --loglevel=error >/dev/null
	$(Q)touch $@

# The chart's renderer for machines without helm: Go's text/template and
# sprig, as Helm renders. Built offline in GOPATH mode against Debian's Go
# sources in /usr/share/gocode (golang-*-dev packages); no module download.
$(OUTPUT)/tests/helm-render: tests/helm/render/main.go | $(OUTPUT)/tests
	$(call msg,GO,$@)
	$(Q)GO111MODULE=off GOFLAGS= GOPATH=/usr/share/gocode \
		GOCACHE=$(abspath $(OUTPUT))/gocache go build -o $@ ./tests/helm/render

# The chart's checks: kubernetes-models (the Kubernetes schemas), the
# prometheus-operator models, ajv, typescript, yaml; pinned by the lock file.
tests/helm/node_modules: tests/helm/package.json tests/helm/package-lock.json
	$(call msg,NPM,$@)
	$(Q)npm ci --prefix tests/helm --no-audit --no-fund --loglevel=error >/dev/null
	$(Q)touch $@

# Debian kernels booted in qemu for the kernel check (tests/kernels): package
# names, or globs for the newest match in the apt sources; "host" is this
# machine's own kernel.
KERNEL_PKGS ?= linux-image-6.1.0-*-cloud-amd64 linux-image-6.12.*-cloud-amd64

test-kernels: deps $(OUTPUT)/podtap $(OUTPUT)/tests/bpf_load
	$(Q)KCHECK_KERNELS='$(KERNEL_PKGS)' tests/kernels/run.sh

# What only the benchmark uses: a non-HTTP TCP stream of small sends.
BENCH_PKGS := iperf3

# The benchmark's floor (tests/bench/floor): an empty program on sys_exit,
# what any syscall tracepoint costs before podtap's own code runs.
$(OUTPUT)/tests/floor.bpf.o: tests/bench/floor/floor.bpf.c Makefile | $(OUTPUT)/tests
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(OUTPUT)/tests/floor.skel.h: $(OUTPUT)/tests/floor.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name floor > $@

$(OUTPUT)/tests/bench_floor: tests/bench/floor/floor.c $(OUTPUT)/tests/floor.skel.h
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -I$(OUTPUT)/tests $< -o $@ -lbpf -lelf -lz

bench: deps $(OUTPUT)/podtap $(OUTPUT)/tests/bench_floor
	$(call apt_install,$(BENCH_PKGS))
	$(Q)tests/bench/run.sh

# --- running --------------------------------------------------------------

run: deps-build $(OUTPUT)/podtap
	$(Q)if [ "$$(id -u)" != 0 ]; then echo "make run: podtap needs root (try: sudo make run)" >&2; exit 1; fi
	$(Q)exec $(OUTPUT)/podtap $(ARGS)

install: $(OUTPUT)/podtap
	$(Q)install -D -m 0755 $(OUTPUT)/podtap $(DESTDIR)$(PREFIX)/bin/podtap

# --- dependencies ---------------------------------------------------------

# Installs only what is missing; apt-get update runs once, when needed.
define apt_install
	$(Q)missing=$$(for p in $(1); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null \
		| grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "  APT      $$missing"; \
		if [ "$$(id -u)" != 0 ]; then echo "missing Debian packages: $$missing (run as root to install)" >&2; exit 1; fi; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
endef

deps-build:
	$(call apt_install,$(BUILD_PKGS))

deps-test:
	$(call apt_install,$(TEST_PKGS))
	@# Node may come from elsewhere with its own npm (Debian's npm package
	@# then conflicts): install Debian's only when there is no npm at all.
	$(Q)command -v npm >/dev/null || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		--no-install-recommends nodejs npm >/dev/null; }

deps: deps-build deps-test

# Test binaries are built after deps: order-only; not for `make unit`,
# which installs nothing.
ifneq ($(MAKECMDGOALS),unit)
$(UNIT_TESTS) $(OUTPUT)/tests/bpf_load: | deps-build
endif
$(OUTPUT)/tests/helm-render: | deps-test

vmlinux:
	$(Q)mkdir -p $(VMLINUX_DIR)
	$(Q)$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $(VMLINUX_DIR)/vmlinux.h

clean:
	$(Q)rm -rf $(OUTPUT)

-include $(wildcard $(OUTPUT)/*.d $(OUTPUT)/user/*/*.d \
	$(OUTPUT)/asan/user/*/*.d $(OUTPUT)/tests/*.d)
