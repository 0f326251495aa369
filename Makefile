# trainbound - one non-recursive Makefile.
#
#   make                  build build/trainbound
#   make test             install missing packages, build, run every test
#   make run              install missing packages, build, start the server
#   make unit | http      one test layer
#   make browser          the dashboard in headless Chromium (part of make test)
#   make docker-check     the Dockerfile's scripts on a clean copy (no Docker engine)
#   make fresh-debian     make test in a debootstrapped Debian 12 chroot (as root; slow, not in make test)
#   make SANITIZER=address|undefined test   sanitizer build in build-<name>/
#   make valgrind         unit tests under valgrind (CK_FORK=no)
#   make bench            benchmarks (not part of make test)
#   make check-asan       unit, cli and http under ASan (the second half of make test)
#   make load             wrk against a busy server, 30 s (not part of make test)
#   make study-demo       the paper's 10x10 additive map through the API (not in make test)
#   make fuzz             libFuzzer runs (clang), FUZZ_SECONDS each; fuzz-regress replays
#
# Knobs: CC, OPT, CFLAGS, LDFLAGS, V=1 for full command lines.

CC ?= cc
OPT ?= -O2 -g
SANITIZER ?=
BUILD ?= build$(if $(SANITIZER),-$(SANITIZER),)

WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wvla \
        -Werror=implicit-function-declaration
# The service by concern (see the README's architecture): the process at
# the top, and one folder each for the CLI, HTTP, the queue, the work (pool
# and job kinds) and the formats. Headers are included by name.
SVC_DIRS := service service/cli service/http service/queue service/work service/format
PROJ_CFLAGS := -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE $(WARN) -MMD -MP -Icore $(SVC_DIRS:%=-I%) -I$(BUILD)
# The reference path must keep science.md's evaluation order: no FMA contraction.
CORE_CFLAGS := -ffp-contract=off

ifeq ($(SANITIZER),address)
  SAN_FLAGS := -fsanitize=address -fno-omit-frame-pointer
else ifeq ($(SANITIZER),undefined)
  SAN_FLAGS := -fsanitize=undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
else ifeq ($(SANITIZER),thread)
  SAN_FLAGS := -fsanitize=thread -fno-omit-frame-pointer
else ifneq ($(SANITIZER),)
  $(error SANITIZER must be address, undefined or thread)
endif

PKGS := libmicrohttpd jansson sqlite3 libpq libuv libpng
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CHECK_CFLAGS = $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS = $(shell pkg-config --libs check 2>/dev/null)

ALL_CFLAGS = $(PROJ_CFLAGS) $(OPT) $(SAN_FLAGS) $(CFLAGS)
ALL_LDFLAGS = $(SAN_FLAGS) $(LDFLAGS)

ifeq ($(V),1)
  Q :=
else
  Q := @
endif

CORE_SRC := $(wildcard core/*.c)
SVC_SRC := $(filter-out service/main.c,$(wildcard $(SVC_DIRS:%=%/*.c)))
MIG_SQL := $(sort $(wildcard migrations/*.sql))
MIG_PG_SQL := $(sort $(wildcard migrations/pg/*.sql))
CORE_OBJ := $(CORE_SRC:%.c=$(BUILD)/%.o)
SVC_OBJ := $(SVC_SRC:%.c=$(BUILD)/%.o) $(BUILD)/gen/migrations.o $(BUILD)/gen/pg_migrations.o \
           $(BUILD)/gen/assets.o
UNIT_SRC := $(wildcard tests/unit/core/test_*.c tests/unit/service/test_*.c \
                       tests/unit/service/*/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
# The unit tests that open a store on either backend (dbfix.h), run again on
# PostgreSQL by unit-pg; test_store is SQLite's own (pragmas, file modes).
PG_UNIT_BIN := $(addprefix $(BUILD)/tests/service/queue/,test_queue test_backend test_store_pg)
# Web assets: files with an extension under service/web/ and its vendor/;
# the OpenAPI spec as YAML (the source) and as JSON (generated from it).
ASSETS := $(sort $(wildcard api/openapi.yaml api/examples/*.json service/web/*.* \
                            service/web/vendor/*.*)) \
          $(BUILD)/gen/openapi.json

.PHONY: all deps test unit cli http run clean valgrind bench lint fuzz fuzz-regress
all: $(BUILD)/trainbound

deps:
	$(Q)sh docker/install-deps.sh

$(BUILD)/libtbcore.a: $(CORE_OBJ)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/libtbsvc.a: $(SVC_OBJ)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/trainbound: $(BUILD)/service/main.o $(BUILD)/libtbsvc.a $(BUILD)/libtbcore.a
	@echo "  LD    $@"
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS) -lpthread -lm

$(BUILD)/core/%.o: core/%.c
	@mkdir -p $(dir $@)
	@echo "  CC    $<"
	$(Q)$(CC) $(ALL_CFLAGS) $(CORE_CFLAGS) -c -o $@ $<

# The fast path may use FMA: it is allowed to differ on chaotic labels.
$(BUILD)/core/fast.o: core/fast.c
	@mkdir -p $(dir $@)
	@echo "  CC    $<"
	$(Q)$(CC) $(ALL_CFLAGS) -ffp-contract=fast -c -o $@ $<

$(BUILD)/service/%.o: service/%.c
	@mkdir -p $(dir $@)
	@echo "  CC    $<"
	$(Q)$(CC) $(ALL_CFLAGS) $(PKG_CFLAGS) -c -o $@ $<

# Migrations and web assets are embedded by generated C files; never edit them.
$(BUILD)/gen/migrations.c: $(MIG_SQL) service/gen-embed.sh
	@mkdir -p $(dir $@)
	$(Q)sh service/gen-embed.sh migrations $(MIG_SQL) > $@

$(BUILD)/gen/pg_migrations.c: $(MIG_PG_SQL) service/gen-embed.sh
	@mkdir -p $(dir $@)
	$(Q)sh service/gen-embed.sh pg_migrations $(MIG_PG_SQL) > $@

$(BUILD)/gen/assets.c: $(ASSETS) service/gen-embed.sh
	@mkdir -p $(dir $@)
	$(Q)sh service/gen-embed.sh assets $(ASSETS) > $@

# api/openapi.yaml is the one source; Debian's yq (jq over YAML) converts it.
$(BUILD)/gen/openapi.json: api/openapi.yaml
	@mkdir -p $(dir $@)
	$(Q)yq -c . api/openapi.yaml > $@.tmp && mv $@.tmp $@

$(BUILD)/gen/%.o: $(BUILD)/gen/%.c
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libtbsvc.a $(BUILD)/libtbcore.a
	@mkdir -p $(dir $@)
	@echo "  TEST  $@"
	$(Q)$(CC) $(ALL_CFLAGS) $(CORE_CFLAGS) $(PKG_CFLAGS) $(CHECK_CFLAGS) -Itests/lib -o $@ $< \
	  $(BUILD)/libtbsvc.a $(BUILD)/libtbcore.a $(ALL_LDFLAGS) $(PKG_LIBS) $(CHECK_LIBS) -lpthread -lm

test: deps
	$(Q)$(MAKE) --no-print-directory unit cli http browser fuzz-regress
	$(Q)$(MAKE) --no-print-directory check-pg
	$(Q)$(if $(SANITIZER),,$(MAKE) --no-print-directory check-asan)

# The queue's unit tests and the HTTP suite again on PostgreSQL (issue 15):
# one throwaway PostgreSQL 15 (tests/lib/pg.sh) for both, removed after.
# unit-pg and http-pg alone start their own when TB_PG_URI is not set.
# procs-pg: tests/pg/, several processes (servers, `trainbound worker`s)
# on one PostgreSQL, killed, restarted, and the server itself stopped.
.PHONY: check-pg unit-pg http-pg procs-pg
check-pg: $(PG_UNIT_BIN) $(BUILD)/trainbound
	$(Q)sh tests/lib/pg.sh run $(MAKE) --no-print-directory unit-pg http-pg procs-pg

procs-pg: $(BUILD)/trainbound
	$(Q)TB_TEST_PG=1 TB_BIN=$(BUILD)/trainbound sh tests/lib/pg.sh run \
	  sh tests/lib/run-scripts.sh tests/pg

unit-pg: $(PG_UNIT_BIN)
	$(Q)TB_TEST_PG=1 sh tests/lib/pg.sh run sh tests/lib/run-unit.sh $(PG_UNIT_BIN)

http-pg: $(BUILD)/trainbound
	$(Q)TB_TEST_PG=1 TB_BIN=$(BUILD)/trainbound sh tests/lib/pg.sh run \
	  sh tests/lib/run-scripts.sh tests/http

# The unit, CLI and HTTP suites again under AddressSanitizer (in
# build-address/); make test runs it after the normal pass.
.PHONY: check-asan
check-asan:
	$(Q)$(MAKE) --no-print-directory SANITIZER=address unit cli http

unit: $(UNIT_BIN)
	$(Q)sh tests/lib/run-unit.sh $(UNIT_BIN)

cli: $(BUILD)/trainbound
	$(Q)TB_BIN=$(BUILD)/trainbound sh tests/lib/run-scripts.sh tests/cli

http: $(BUILD)/trainbound
	$(Q)TB_BIN=$(BUILD)/trainbound sh tests/lib/run-scripts.sh tests/http

# The dashboard in Debian's headless Chromium via playwright-core; installs
# chromium/node (apt) and tests/browser/node_modules (npm ci) when missing.
# Screenshots in $(BUILD)/browser/.
.PHONY: browser
browser: $(BUILD)/trainbound
	$(Q)TB_BIN=$(BUILD)/trainbound SHOTS=$(BUILD)/browser sh tests/browser/run.sh

valgrind: $(UNIT_BIN) $(BUILD)/trainbound
	$(Q)CK_FORK=no TB_VALGRIND=1 sh tests/lib/run-unit.sh $(UNIT_BIN)

run: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)mkdir -p data
	exec $(BUILD)/trainbound serve --listen 127.0.0.1:8080 --db data/trainbound.db

# BENCH_ARGS=--quick for levels 16 and 20 only.
bench: deps $(BUILD)/trainbound
	$(Q)sh bench/run.sh $(BUILD)/trainbound $(BENCH_ARGS)

# wrk (installed when missing): 64 connections poll a job's status for
# LOAD_SECONDS (30) while a sweep keeps every worker busy; loopback only,
# not part of make test.
.PHONY: load
load: $(BUILD)/trainbound
	$(Q)sh tests/load/run.sh $(BUILD)/trainbound

# docker/Dockerfile's build and run steps on a clean copy, without Docker.
.PHONY: docker-check
docker-check:
	$(Q)sh tests/docker/clean-build.sh

# make test from scratch: a Debian 12 minbase chroot (debootstrap) with only
# build-essential, git and curl, a clone of the committed HEAD; needs root.
.PHONY: fresh-debian
fresh-debian:
	$(Q)sh tests/docker/fresh-debian.sh

# The paper's 10x10 additive map through the API (issue 4), on the fast
# path; minutes on two cores. Not part of make test. DEMO_WORKERS, DEMO_TIMEOUT.
.PHONY: study-demo
study-demo: $(BUILD)/trainbound
	$(Q)sh tests/study-demo.sh $(BUILD)/trainbound

# libFuzzer targets (clang; tests/fuzz/run.sh installs it when missing), each
# for FUZZ_SECONDS (default 60); fuzz-regress only replays the saved inputs.
fuzz:
	$(Q)sh tests/fuzz/run.sh

fuzz-regress:
	$(Q)sh tests/fuzz/run.sh --regress

lint:
	$(Q)clang-format --dry-run -Werror core/*.[ch] $(SVC_DIRS:%=%/*.[ch])
	$(Q)cppcheck -q --error-exitcode=1 --std=c11 -Icore $(SVC_DIRS:%=-I%) core service

clean:
	rm -rf build build-address build-undefined build-thread

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
